// Byte-level BPE tokenizer (`tokenizer.ggml.model = "gpt2"`), llama.cpp's algorithm.
//
// Invariant: the text is split into words by the vocabulary's pre-tokenizer; each word's bytes
// are mapped to GPT-2's printable code points; within a word, the adjacent pair with the lowest
// merge rank is merged first (leftmost on ties) until no pair has a rank; each final symbol is
// its token, or, when its text is no token, the tokens of its single bytes (when they exist).
// For ignore_merges vocabularies (llama3) a word that is itself a token is emitted directly.
// Merges are indexed by (left symbol, right symbol) ids: merge texts that are not tokens get
// ids past the vocabulary, so the loop never builds strings.
//
// Thread-safety: immutable; Encode allocates its working state per call.
#pragma once

#include <memory>

#include "tokenizer/tokenizer.h"

namespace swarmkv {

std::unique_ptr<Tokenizer> NewBpeTokenizer(std::shared_ptr<const Vocab> vocab);

}  // namespace swarmkv
