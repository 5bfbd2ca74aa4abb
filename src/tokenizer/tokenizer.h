// Tokenizer: text <-> token ids for one vocabulary, token-for-token equal to llama.cpp.
//
// Invariant: Encode is a pure function of (vocabulary, text, options): the KV cache decides
// prefix hits on its output, so it must never depend on state, threads or locale. Encode never
// fails: any byte string (invalid UTF-8, NUL bytes) gives ids (invalid bytes are read as U+FFFD,
// as llama.cpp does). Special tokens (control, user-defined) are matched whole, longest first,
// only when parse_special is set — except user-defined ones, which are always matched (llama.cpp
// and Hugging Face do the same). Time is O(n log n) in the text length for every input.
//
// Thread-safety: immutable after Create; Encode/Decode may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/vocab.h"

namespace swarmkv {

struct EncodeOptions {
  bool add_special = true;     // BOS/EOS as the vocabulary asks (add_bos/add_eos)
  bool parse_special = false;  // match control tokens ("<|im_start|>") in the text
};

struct DecodeOptions {
  bool render_special = false;       // control tokens print their text instead of nothing
  bool strip_leading_space = true;   // SPM with add_space_prefix: drop the space Encode added
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  static Result<std::unique_ptr<Tokenizer>> Create(std::shared_ptr<const Vocab> vocab);
  // Loads the vocabulary of a GGUF file (model or vocabulary-only) and builds its tokenizer.
  static Result<std::unique_ptr<Tokenizer>> Load(const std::string& gguf_path);

  std::vector<int32_t> Encode(std::string_view text, const EncodeOptions& options = {}) const;

  // The bytes one token stands for (byte tokens, "▁" -> " ", GPT-2 byte decoding). Control
  // tokens give "" unless render_special. InvalidArgument for an id outside the vocabulary.
  Result<std::string> TokenToPiece(int32_t id, bool render_special = false) const;
  // Concatenated pieces; may end in an incomplete UTF-8 sequence (use StreamDecoder for text).
  Result<std::string> Decode(std::span<const int32_t> ids, const DecodeOptions& options = {}) const;

  const Vocab& vocab() const { return *vocab_; }
  const std::shared_ptr<const Vocab>& shared_vocab() const { return vocab_; }

 protected:
  explicit Tokenizer(std::shared_ptr<const Vocab> vocab);
  // Tokenizes one piece of plain text (no special tokens in it) and appends the ids.
  // `first_after_special` is true at the start and right after a special token.
  virtual void EncodePlain(std::string_view text, bool first_after_special, std::vector<int32_t>* out) const = 0;
  // The piece of a normal token's text.
  virtual std::string NormalPiece(const std::string& text) const = 0;

  std::shared_ptr<const Vocab> vocab_;
};

}  // namespace swarmkv
