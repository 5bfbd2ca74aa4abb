// StreamDecoder: turns generated token ids into text one token at a time, emitting only whole
// UTF-8 characters.
//
// Invariant: the concatenation of everything Push and Finish return is valid UTF-8 and equals
// the token pieces' bytes with each invalid sequence replaced by U+FFFD (one per maximal invalid
// subpart, as the Unicode standard recommends). A character whose bytes span several tokens is
// held back (at most 3 bytes) until it completes. Finish() flushes a trailing incomplete
// sequence as U+FFFD.
//
// Thread-safety: not thread-safe; one decoder per sequence. The Tokenizer must outlive it.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv {

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {});

  // The text completed by this token ("" when it only started a character).
  Result<std::string> Push(int32_t id);
  // Feeds raw bytes (what Push does with a token's piece); for tests and other byte sources.
  std::string PushBytes(std::string_view bytes);
  // Whatever is still pending, as U+FFFD; the decoder is then empty.
  std::string Finish();

  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  bool first_ = true;
  std::string pending_;  // an incomplete (so far valid) UTF-8 prefix, < 4 bytes
};

// Appends the valid UTF-8 of `bytes` to `out`, each maximal invalid subpart as U+FFFD; returns
// the number of trailing bytes that form an incomplete but so far valid sequence (not consumed)
// unless `final` is set.
size_t AppendSanitizedUtf8(std::string_view bytes, bool final, std::string* out);

}  // namespace swarmkv
