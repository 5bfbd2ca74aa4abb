// The built-in text the synthetic model's BPE merges are learned from: English prose, code in a
// few languages and some non-ASCII text (accents, Cyrillic, CJK, emoji), written for swarmkv.
//
// Invariant: the text never changes once released — changing it changes every synthetic
// model's tokenizer (and so every KV namespace derived from such a model).
#pragma once

#include <string_view>

namespace swarmkv {

std::string_view SyntheticCorpus();

}  // namespace swarmkv
