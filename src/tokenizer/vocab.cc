#include "tokenizer/vocab.h"

#include <algorithm>
#include <sstream>

#include "base/logging.h"
#include "gguf/gguf_file.h"

namespace swarmkv {
namespace {

bool ContainsAny(const std::string& s, std::initializer_list<const char*> subs) {
  for (const char* sub : subs) {
    if (s.find(sub) != std::string::npos) return true;
  }
  return false;
}

// Optional metadata: absent -> keep `*out`; present with the wrong type -> error.
Status ReadOptionalId(const GgufFile& f, const char* key, int32_t* out) {
  if (f.Find(key) == nullptr) return Status::OK();
  SKV_ASSIGN_OR_RETURN(uint32_t v, f.GetU32(key));
  *out = static_cast<int32_t>(v);
  return Status::OK();
}

Status ReadOptionalBool(const GgufFile& f, const char* key, int8_t* out) {
  if (f.Find(key) == nullptr) return Status::OK();
  SKV_ASSIGN_OR_RETURN(bool v, f.GetBool(key));
  *out = v ? 1 : 0;
  return Status::OK();
}

Status ReadOptionalString(const GgufFile& f, const char* key, std::string* out) {
  if (f.Find(key) == nullptr) return Status::OK();
  SKV_ASSIGN_OR_RETURN(std::string_view v, f.GetString(key));
  *out = std::string(v);
  return Status::OK();
}

}  // namespace

Result<std::shared_ptr<const Vocab>> Vocab::Create(VocabData data) {
  std::shared_ptr<Vocab> v(new Vocab());
  const std::string where = data.name.empty() ? std::string("vocabulary") : "vocabulary of '" + data.name + "'";
  if (data.model == "llama") {
    v->model_ = TokenizerModel::kSpm;
  } else if (data.model == "gpt2") {
    v->model_ = TokenizerModel::kBpe;
  } else if (data.model == "bert") {
    return UnimplementedError(where + ": tokenizer model 'bert' (WordPiece, embedding models) is not supported; "
                              "supported: 'llama' (SentencePiece) and 'gpt2' (byte-level BPE)");
  } else {
    return UnimplementedError(where + ": unknown tokenizer model '" + data.model +
                              "' (tokenizer.ggml.model); supported: 'llama' (SentencePiece) and 'gpt2' (byte-level BPE)");
  }
  const size_t n = data.tokens.size();
  if (n == 0) return InvalidArgumentError(where + ": tokenizer.ggml.tokens is missing or empty");
  if (n > static_cast<size_t>(INT32_MAX)) return InvalidArgumentError(where + ": too many tokens");
  if (data.scores.empty()) data.scores.assign(n, 0.0f);
  if (data.types.empty()) data.types.assign(n, static_cast<int32_t>(TokenType::kNormal));
  if (data.scores.size() != n) {
    return InvalidArgumentError(where + ": tokenizer.ggml.scores has " + std::to_string(data.scores.size()) +
                                " entries for " + std::to_string(n) + " tokens");
  }
  if (data.types.size() != n) {
    return InvalidArgumentError(where + ": tokenizer.ggml.token_type has " + std::to_string(data.types.size()) +
                                " entries for " + std::to_string(n) + " tokens");
  }
  for (auto& t : data.types) {
    if (t < 0 || t > static_cast<int32_t>(TokenType::kByte)) t = static_cast<int32_t>(TokenType::kUndefined);
  }

  // Model defaults, as llama.cpp sets them before reading the metadata.
  if (v->model_ == TokenizerModel::kSpm) {
    v->bos_ = 1; v->eos_ = 2; v->unk_ = 0; v->pad_ = -1;
    v->add_bos_ = true; v->add_eos_ = false; v->add_space_prefix_ = true;
  } else {
    v->bos_ = 11; v->eos_ = 11; v->unk_ = -1; v->pad_ = -1;
    v->add_bos_ = false; v->add_eos_ = false; v->add_space_prefix_ = false;
    if (data.merges.empty()) {
      return InvalidArgumentError(where + ": BPE vocabulary has no merges (tokenizer.ggml.merges missing or empty)");
    }
    SKV_ASSIGN_OR_RETURN(v->pre_, ParsePreTokenizer(data.pre, &v->ignore_merges_));
    if (v->pre_ == PreTokenizerKind::kLlama3 && v->ignore_merges_) v->add_bos_ = true;  // llama3 family
    for (size_t i = 0; i < data.merges.size(); ++i) {
      const std::string& m = data.merges[i];
      if (m.size() < 3 || m.find(' ', 1) == std::string::npos || m.find(' ', 1) == m.size() - 1) {
        return InvalidArgumentError(where + ": merge #" + std::to_string(i) + " '" + m +
                                    "' is not of the form 'left right'");
      }
    }
  }
  auto pick = [&](int32_t given, int32_t* field, const char* what) -> Status {
    if (given == -2) return Status::OK();
    if (given != -1 && (given < 0 || static_cast<size_t>(given) >= n)) {
      // Some converted files carry a stale id (a padding id past the vocabulary, say): the
      // vocabulary is still usable, the id is dropped, as llama.cpp does.
      SKV_LOG(WARN) << where << ": " << what << " token id " << given << " is out of range (" << n
                    << " tokens); ignored";
      *field = -1;
      return Status::OK();
    }
    *field = given;
    return Status::OK();
  };
  SKV_RETURN_IF_ERROR(pick(data.bos, &v->bos_, "bos"));
  SKV_RETURN_IF_ERROR(pick(data.eos, &v->eos_, "eos"));
  SKV_RETURN_IF_ERROR(pick(data.unk, &v->unk_, "unk"));
  SKV_RETURN_IF_ERROR(pick(data.pad, &v->pad_, "pad"));
  SKV_RETURN_IF_ERROR(pick(data.eot, &v->eot_, "eot"));
  auto clamp = [&](int32_t* id) { if (*id >= static_cast<int32_t>(n)) *id = -1; };
  clamp(&v->bos_); clamp(&v->eos_); clamp(&v->unk_);
  if (data.add_bos >= 0) v->add_bos_ = data.add_bos != 0;
  if (data.add_eos >= 0) v->add_eos_ = data.add_eos != 0;
  if (data.add_space_prefix >= 0) v->add_space_prefix_ = data.add_space_prefix != 0;
  if (v->add_bos_ && v->bos_ < 0) v->add_bos_ = false;
  if (v->add_eos_ && v->eos_ < 0) v->add_eos_ = false;

  v->text_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (data.tokens[i].empty()) data.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
    // NOTE: llama.cpp's token_to_id[word] = i keeps the last id of a duplicated text; so do we.
    v->text_to_id_[data.tokens[i]] = static_cast<int32_t>(i);
  }
  // Harmony (gpt-oss, o200k_harmony), as llama.cpp loads it: the tokens that frame a message's
  // header are user-defined, so they are always rendered (the reply parser reads the channels)
  // and matched in text; <|end|> closes a message but not the reply, which ends at <|return|>
  // or <|call|>.
  const auto id_of = [&](std::string_view text) {
    auto it = v->text_to_id_.find(text);
    return it == v->text_to_id_.end() ? -1 : it->second;
  };
  const bool harmony = id_of("<|return|>") >= 0 && id_of("<|call|>") >= 0 && id_of("<|end|>") >= 0;
  for (const char* t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    if (const int32_t id = id_of(t); id >= 0) data.types[id] = static_cast<int32_t>(TokenType::kUserDefined);
  }
  if (harmony) data.types[id_of("<|end|>")] = static_cast<int32_t>(TokenType::kUserDefined);
  for (size_t i = 0; i < n; ++i) {
    const auto t = static_cast<TokenType>(data.types[i]);
    if (t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown) {
      v->special_tokens_.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(v->special_tokens_.begin(), v->special_tokens_.end(), [&](int32_t a, int32_t b) {
    return data.tokens[a].size() > data.tokens[b].size();
  });
  // End-of-generation tokens: eos, eot, and the control tokens chat templates end turns with
  // (llama.cpp detects the same texts).
  for (int32_t id : {v->eos_, v->eot_}) {
    if (id >= 0) v->eog_.push_back(id);
  }
  for (int32_t id : v->special_tokens_) {
    const std::string& t = data.tokens[id];
    if (static_cast<TokenType>(data.types[id]) == TokenType::kControl &&
        (t == "<|eot_id|>" || t == "<|im_end|>" || t == "<|end|>" || t == "<end_of_turn>" ||
         t == "<|endoftext|>" || t == "<|eom_id|>" || t == "<EOT>" || t == "<|EOT|>" ||
         t == "<|return|>" || t == "<|call|>")) {
      if (std::find(v->eog_.begin(), v->eog_.end(), id) == v->eog_.end()) v->eog_.push_back(id);
    }
  }
  if (harmony) std::erase(v->eog_, id_of("<|end|>"));  // even when the file names it eos
  v->rstrip_.assign(n, 0);
  std::string lower_name = data.name;
  std::transform(lower_name.begin(), lower_name.end(), lower_name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ContainsAny(lower_name, {"phi-3", "phi3"})) {
    for (int32_t id : v->special_tokens_) v->rstrip_[id] = 1;
    auto set = [&](const char* text, uint8_t value) {
      auto it = v->text_to_id_.find(std::string_view(text));
      if (it != v->text_to_id_.end()) v->rstrip_[it->second] = value;
    };
    set("</s>", 1);
    for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, 0);
  }
  v->data_ = std::move(data);
  SKV_RETURN_IF_ERROR(v->CheckInvariants());
  return std::shared_ptr<const Vocab>(std::move(v));
}

Result<VocabData> Vocab::ReadData(const std::string& path) {
  SKV_ASSIGN_OR_RETURN(auto file, GgufFile::Open(path));
  return ReadData(*file);
}

Result<std::shared_ptr<const Vocab>> Vocab::FromGguf(const GgufFile& f) {
  SKV_ASSIGN_OR_RETURN(VocabData d, ReadData(f));
  auto v = Create(std::move(d));
  if (!v.ok()) return v.status().WithContext("GGUF '" + f.path() + "'");
  return v;
}

Result<VocabData> Vocab::ReadData(const GgufFile& f) {
  VocabData d;
  SKV_RETURN_IF_ERROR(ReadOptionalString(f, "general.name", &d.name));
  auto where = [&] { return "GGUF '" + f.path() + "'"; };
  if (f.Find("tokenizer.ggml.model") == nullptr) {
    return InvalidArgumentError(where() + ": no tokenizer (tokenizer.ggml.model is missing)");
  }
  SKV_ASSIGN_OR_RETURN(auto model, f.GetString("tokenizer.ggml.model"));
  d.model = std::string(model);
  SKV_RETURN_IF_ERROR(ReadOptionalString(f, "tokenizer.ggml.pre", &d.pre));
  SKV_RETURN_IF_ERROR(ReadOptionalString(f, "tokenizer.chat_template", &d.chat_template));
  if (d.model == "llama" || d.model == "gpt2") {
    if (f.Find("tokenizer.ggml.tokens") == nullptr) {
      return InvalidArgumentError(where() + ": tokenizer.ggml.tokens is missing");
    }
    SKV_ASSIGN_OR_RETURN(auto tokens, f.GetStringArray("tokenizer.ggml.tokens"));
    d.tokens.assign(tokens.begin(), tokens.end());
    if (f.Find("tokenizer.ggml.scores") != nullptr) {
      SKV_ASSIGN_OR_RETURN(d.scores, f.GetF32Array("tokenizer.ggml.scores"));
    }
    if (f.Find("tokenizer.ggml.token_type") != nullptr) {
      SKV_ASSIGN_OR_RETURN(d.types, f.GetI32Array("tokenizer.ggml.token_type"));
    }
    if (f.Find("tokenizer.ggml.merges") != nullptr) {
      SKV_ASSIGN_OR_RETURN(auto merges, f.GetStringArray("tokenizer.ggml.merges"));
      d.merges.assign(merges.begin(), merges.end());
    }
    SKV_RETURN_IF_ERROR(ReadOptionalId(f, "tokenizer.ggml.bos_token_id", &d.bos));
    SKV_RETURN_IF_ERROR(ReadOptionalId(f, "tokenizer.ggml.eos_token_id", &d.eos));
    SKV_RETURN_IF_ERROR(ReadOptionalId(f, "tokenizer.ggml.unknown_token_id", &d.unk));
    SKV_RETURN_IF_ERROR(ReadOptionalId(f, "tokenizer.ggml.padding_token_id", &d.pad));
    SKV_RETURN_IF_ERROR(ReadOptionalId(f, "tokenizer.ggml.eot_token_id", &d.eot));
    SKV_RETURN_IF_ERROR(ReadOptionalBool(f, "tokenizer.ggml.add_bos_token", &d.add_bos));
    SKV_RETURN_IF_ERROR(ReadOptionalBool(f, "tokenizer.ggml.add_eos_token", &d.add_eos));
    SKV_RETURN_IF_ERROR(ReadOptionalBool(f, "tokenizer.ggml.add_space_prefix", &d.add_space_prefix));
  }
  return d;
}

Result<std::shared_ptr<const Vocab>> Vocab::Load(const std::string& path) {
  SKV_ASSIGN_OR_RETURN(auto file, GgufFile::Open(path));
  return FromGguf(*file);
}

Status Vocab::CheckInvariants() const {
  const size_t n = data_.tokens.size();
  if (data_.scores.size() != n || data_.types.size() != n || rstrip_.size() != n) {
    return InternalError("vocab: per-token arrays differ in size");
  }
  for (size_t i = 0; i < n; ++i) {
    if (data_.tokens[i].empty()) return InternalError("vocab: empty token text at " + std::to_string(i));
  }
  for (size_t i = 1; i < special_tokens_.size(); ++i) {
    if (Text(special_tokens_[i - 1]).size() < Text(special_tokens_[i]).size()) {
      return InternalError("vocab: special tokens not sorted longest first");
    }
  }
  return Status::OK();
}

std::string Vocab::DebugString() const {
  std::ostringstream os;
  os << "Vocab{model=" << (model_ == TokenizerModel::kSpm ? "spm" : "bpe")
     << " pre=" << PreTokenizerName(pre_) << " tokens=" << size() << " merges=" << data_.merges.size()
     << " bos=" << bos_ << " eos=" << eos_ << " unk=" << unk_ << " eot=" << eot_
     << " add_bos=" << add_bos_ << " add_eos=" << add_eos_ << " add_space_prefix=" << add_space_prefix_
     << " special=" << special_tokens_.size() << "}";
  return os.str();
}

}  // namespace swarmkv
