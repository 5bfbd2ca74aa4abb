#include "tokenizer/tokenizer.h"

#include <cctype>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"

namespace swarmkv {
namespace {

// A piece of the input: plain text [begin, end) or one special token.
struct Fragment {
  size_t begin = 0, end = 0;
  int32_t token = -1;  // >= 0: a special token
};

bool IsAsciiSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Splits the text at every occurrence of each special token, longest tokens first, so a token
// is never split by a shorter one (llama.cpp's tokenizer_st_partition). Linear per token.
std::vector<Fragment> Partition(const Vocab& vocab, std::string_view text, bool parse_special) {
  std::vector<Fragment> frags{{0, text.size(), -1}};
  std::vector<Fragment> next;
  for (int32_t id : vocab.special_tokens()) {
    const TokenType type = vocab.Type(id);
    if (!parse_special && type != TokenType::kUserDefined) continue;
    const std::string& tok = vocab.Text(id);
    next.clear();
    bool changed = false;
    for (const Fragment& f : frags) {
      if (f.token >= 0 || f.end - f.begin < tok.size()) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.begin;
      while (pos < f.end) {
        const size_t m = text.substr(0, f.end).find(tok, pos);
        if (m == std::string_view::npos) break;
        if (m > pos) next.push_back({pos, m, -1});
        next.push_back({m, m + tok.size(), id});
        pos = m + tok.size();
        if (vocab.RStrip(id)) {
          while (pos < f.end && IsAsciiSpace(text[pos])) ++pos;
        }
        changed = true;
      }
      if (pos < f.end) next.push_back({pos, f.end, -1});
    }
    if (changed) frags.swap(next);
  }
  return frags;
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const Vocab> vocab) : vocab_(std::move(vocab)) {}

Result<std::unique_ptr<Tokenizer>> Tokenizer::Create(std::shared_ptr<const Vocab> vocab) {
  if (vocab == nullptr) return InvalidArgumentError("Tokenizer::Create: null vocabulary");
  if (vocab->model() == TokenizerModel::kSpm) return NewSpmTokenizer(std::move(vocab));
  return NewBpeTokenizer(std::move(vocab));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& gguf_path) {
  SKV_ASSIGN_OR_RETURN(auto vocab, Vocab::Load(gguf_path));
  return Create(std::move(vocab));
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  const Vocab& v = *vocab_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (options.add_special && v.add_bos()) out.push_back(v.bos());
  if (!text.empty()) {
    bool after_special = true;
    for (const Fragment& f : Partition(v, text, options.parse_special)) {
      if (f.token >= 0) {
        out.push_back(f.token);
        after_special = true;
      } else {
        EncodePlain(text.substr(f.begin, f.end - f.begin), after_special, &out);
        after_special = false;
      }
    }
  }
  if (options.add_special && v.add_eos()) out.push_back(v.eos());
  return out;
}

Result<std::string> Tokenizer::TokenToPiece(int32_t id, bool render_special) const {
  const Vocab& v = *vocab_;
  if (!v.IsValid(id)) {
    return InvalidArgumentError("token id " + std::to_string(id) + " is outside the vocabulary (" +
                                std::to_string(v.size()) + " tokens)");
  }
  const std::string& text = v.Text(id);
  switch (v.Type(id)) {
    case TokenType::kNormal:
    case TokenType::kUndefined:
      return NormalPiece(text);
    case TokenType::kUnknown:
      return v.model() == TokenizerModel::kSpm ? std::string("\xE2\x96\x85") : std::string();
    case TokenType::kControl:
      return render_special ? text : std::string();
    case TokenType::kUserDefined:
      return text;
    case TokenType::kUnused:
      return std::string();
    case TokenType::kByte: {
      // "<0xNN>"
      if (text.size() == 6 && text[0] == '<' && text[1] == '0' && text[2] == 'x' && text[5] == '>') {
        return std::string(1, static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16)));
      }
      return NormalPiece(text);
    }
  }
  return std::string();
}

Result<std::string> Tokenizer::Decode(std::span<const int32_t> ids, const DecodeOptions& options) const {
  std::string out;
  bool first = true;
  for (int32_t id : ids) {
    SKV_ASSIGN_OR_RETURN(std::string piece, TokenToPiece(id, options.render_special));
    if (first && !piece.empty()) {
      if (options.strip_leading_space && vocab_->model() == TokenizerModel::kSpm &&
          vocab_->add_space_prefix() && piece[0] == ' ') {
        piece.erase(0, 1);
      }
      first = false;
    }
    out += piece;
  }
  return out;
}

}  // namespace swarmkv
