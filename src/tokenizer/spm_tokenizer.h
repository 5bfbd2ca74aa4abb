// SentencePiece-style tokenizer (`tokenizer.ggml.model = "llama"`), llama.cpp's algorithm.
//
// Invariant: spaces become "▁" (and one is prepended to text that starts the input or follows a
// special token when add_space_prefix is set); adjacent symbols are merged greedily by the score
// of the token their concatenation forms (highest first, leftmost on ties); a final symbol that is
// no token is re-split along the merges that built it, and what remains falls back to byte tokens
// "<0xNN>" (or unk when the vocabulary has none).
//
// Thread-safety: immutable; Encode allocates its working state per call.
#pragma once

#include <memory>

#include "tokenizer/tokenizer.h"

namespace swarmkv {

// Long texts are merged in independent segments of about `segment_bytes`, cut only before a
// word start ("▁") that no vocabulary token spans, so the result equals merging the whole text
// at once (merges never cross such a cut) while the merge queue stays small.
std::unique_ptr<Tokenizer> NewSpmTokenizer(std::shared_ptr<const Vocab> vocab, size_t segment_bytes = 4096);

}  // namespace swarmkv
