// Pre-tokenizers: split text into the "words" that byte-level BPE merges within, exactly as
// llama.cpp's regex pipelines for each `tokenizer.ggml.pre` name do.
//
// Invariant: the pieces partition the input (their lengths sum to its code point count, none is
// empty), and splitting is linear in the input length: each regex is a hand-written scanner over
// code points (never std::regex), applied in llama.cpp's order; every step re-splits each piece
// of the previous step, and text a step does not match stays a piece of its own.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace swarmkv {

enum class PreTokenizerKind {
  kDefault,        // "default" and missing: llama.cpp's default BPE pipeline
  kGpt2,           // gpt-2, mpt, olmo, jais, phi-2, roberta-bpe, ...
  kLlama3,         // llama3, llama-v3, llama-bpe, falcon3, dbrx, smaug-bpe, chatglm-bpe
  kQwen2,          // qwen2, deepseek-r1-qwen, stablelm2, megrez
  kDeepseekLlm,    // deepseek-llm
  kDeepseekCoder,  // deepseek-coder
  kFalcon,         // falcon
  kStarcoder,      // starcoder, refact, command-r, smollm, codeshell, exaone, minerva-7b
  kGpt4o,          // gpt-4o, llama4: o200k (gpt-oss), with its Unicode letter-case classes
};

// Maps a `tokenizer.ggml.pre` value to its kind; an unknown name is an Unimplemented error that
// names it. `*ignore_merges` is set for the pre-tokenizers whose whole-word vocabulary hits skip
// merging (llama3 family; o200k, as tiktoken and its tokenizer.json do).
//
// NOTE (gpt-4o): the split follows o200k's own regex with true Unicode classes (\p{Lu}, \p{Ll},
// \p{M}, ...), as tiktoken, Hugging Face tokenizers and Ollama split it. llama.cpp runs a rewrite
// of that regex whose case classes are ASCII-only and whose words exclude marks, so on words that
// mix non-ASCII upper and lower case, or carry combining marks, its ids can differ from the
// model's own tokenizer; we side with the model's tokenizer.
Result<PreTokenizerKind> ParsePreTokenizer(std::string_view name, bool* ignore_merges);
std::string_view PreTokenizerName(PreTokenizerKind kind);

// Splits `cpts` and returns the piece lengths in code points.
std::vector<uint32_t> PreTokenize(PreTokenizerKind kind, const std::vector<uint32_t>& cpts);

}  // namespace swarmkv
