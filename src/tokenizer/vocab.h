// Vocab: a tokenizer vocabulary as GGUF stores it (`tokenizer.ggml.*`), validated and indexed.
//
// Invariant: after Create/FromGguf succeeds, the model kind is supported (SPM "llama" or
// byte-level BPE "gpt2"), every token has non-empty text (an empty one is renamed
// "[EMPTY_<id>]", as llama.cpp does), scores/types have one entry per token, every special id
// is -1 or a valid id, a BPE vocabulary has merges, and text -> id lookup returns the last id
// with that text (llama.cpp's rule, see NOTE in vocab.cc).
//
// Thread-safety: immutable after construction; share via std::shared_ptr<const Vocab>.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "tokenizer/pre_tokenizer.h"

namespace swarmkv {

class GgufFile;

enum class TokenizerModel { kSpm, kBpe };

// ggml's token types (`tokenizer.ggml.token_type`).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Everything a vocabulary is made of, before validation (tests build one directly).
struct VocabData {
  std::string model;                  // tokenizer.ggml.model: "llama" or "gpt2"
  std::string pre;                    // tokenizer.ggml.pre ("" = default)
  std::string name;                   // general.name (phi-3 special-token strip rule)
  std::vector<std::string> tokens;
  std::vector<float> scores;          // empty = all 0
  std::vector<int32_t> types;         // empty = all normal
  std::vector<std::string> merges;    // "left right", BPE only, rank = index
  int32_t bos = -2, eos = -2, unk = -2, pad = -2, eot = -2;  // -2 = model default, -1 = none
  int8_t add_bos = -1, add_eos = -1, add_space_prefix = -1;  // -1 = model default
  std::string chat_template;          // tokenizer.chat_template ("" = none)
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Vocab {
 public:
  static Result<std::shared_ptr<const Vocab>> Create(VocabData data);
  static Result<std::shared_ptr<const Vocab>> FromGguf(const GgufFile& file);
  // The raw `tokenizer.ggml.*` metadata of a file (unvalidated; Create validates), for callers
  // that adjust a vocabulary before building it (tests, benchmarks).
  static Result<VocabData> ReadData(const GgufFile& file);
  static Result<VocabData> ReadData(const std::string& path);
  // Opens a GGUF file (a full model or a vocabulary-only file) and loads its vocabulary.
  static Result<std::shared_ptr<const Vocab>> Load(const std::string& path);

  TokenizerModel model() const { return model_; }
  PreTokenizerKind pre_tokenizer() const { return pre_; }
  bool ignore_merges() const { return ignore_merges_; }
  const std::string& name() const { return data_.name; }
  const std::string& chat_template() const { return data_.chat_template; }

  int32_t size() const { return static_cast<int32_t>(data_.tokens.size()); }
  bool IsValid(int32_t id) const { return id >= 0 && id < size(); }
  const std::string& Text(int32_t id) const { return data_.tokens[id]; }
  float Score(int32_t id) const { return data_.scores[id]; }
  TokenType Type(int32_t id) const { return static_cast<TokenType>(data_.types[id]); }
  // The id whose text is exactly `text`, or -1.
  int32_t Find(std::string_view text) const {
    auto it = text_to_id_.find(text);
    return it == text_to_id_.end() ? -1 : it->second;
  }
  const std::vector<std::string>& merges() const { return data_.merges; }

  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  int32_t unk() const { return unk_; }
  int32_t pad() const { return pad_; }
  int32_t eot() const { return eot_; }
  // True for tokens that end a generation: eos, eot, and control tokens such as <|im_end|>,
  // <|eot_id|>, <|end|>, <end_of_turn>.
  bool IsEog(int32_t id) const { return std::find(eog_.begin(), eog_.end(), id) != eog_.end(); }
  const std::vector<int32_t>& eog_tokens() const { return eog_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  // Special tokens strip white space on their right when matched (llama.cpp's phi-3 rule).
  bool RStrip(int32_t id) const { return rstrip_[id] != 0; }

  // Control, user-defined and unknown tokens, longest text first (ties: lower id first).
  const std::vector<int32_t>& special_tokens() const { return special_tokens_; }

  Status CheckInvariants() const;
  std::string DebugString() const;

 private:
  Vocab() = default;

  // Constant after construction.
  VocabData data_;
  TokenizerModel model_ = TokenizerModel::kSpm;
  PreTokenizerKind pre_ = PreTokenizerKind::kDefault;
  bool ignore_merges_ = false;
  int32_t bos_ = -1, eos_ = -1, unk_ = -1, pad_ = -1, eot_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> text_to_id_;
  std::vector<int32_t> special_tokens_;
  std::vector<uint8_t> rstrip_;
  std::vector<int32_t> eog_;
};

}  // namespace swarmkv
