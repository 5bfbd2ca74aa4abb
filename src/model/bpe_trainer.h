// A small deterministic byte-level BPE trainer (GPT-2 style) for the synthetic model's vocabulary.
//
// Tokens and merges are in GPT-2's byte-to-unicode form (byte 0x20 is "Ġ", 0x0A is "Ċ", ...), as
// `tokenizer.ggml.tokens` / `tokenizer.ggml.merges` store them. Token i < 256 is byte i.
//
// Invariant: the output depends only on the text and `max_merges` — ties between equally
// frequent pairs go to the lexicographically smallest (left, right) token strings — so a
// synthetic model's tokenizer is identical on every machine. Tokens are unique: a merge whose
// result already exists (reached by another merge order) adds a merge but no new token.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace swarmkv {

// GPT-2's byte-to-unicode mapping of one byte, as UTF-8.
std::string ByteToUnicode(uint8_t byte);
// The mapped form of a byte string (each byte through ByteToUnicode).
std::string BytesToUnicode(std::string_view bytes);

struct BpeVocab {
  std::vector<std::string> tokens;  // 256 byte tokens, then merged tokens in creation order
  std::vector<std::string> merges;  // "left right", highest priority first
};

// Learns up to `max_merges` merges from `text`, split into GPT-2-like pre-tokens (an optional
// leading space plus a run of letters, digits or punctuation; whitespace runs). Stops early when
// every pre-token is a single token.
BpeVocab TrainByteLevelBpe(std::string_view text, size_t max_merges);

}  // namespace swarmkv
