// libFuzzer target for the tokenizers (BPE and SPM): any bytes — invalid UTF-8, NUL bytes, control
// tokens — must encode to ids inside the vocabulary, encode the same way twice (the KV cache keys
// on it), and decode without error; never a crash, a hang or an out-of-bounds read (ASan/UBSan).
//
// Vocabularies: llama.cpp's test vocabularies from $SWARMKV_SHARED_DIR/llamacpp-data/vocab (or
// ../shared/...) when present — SPM (llama-spm), BPE with several pre-tokenizers (gpt-2, phi-3,
// deepseek-coder/-llm, falcon, starcoder, mpt, refact, bert-bge) — plus two small built-in ones
// (one BPE, one SPM) so the target works without the shared data.
// Input: byte 0 picks the vocabulary (byte 0 % count) and the options (bits 6, 7: add_special,
// parse_special); the rest is the text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using namespace swarmkv;

std::unique_ptr<Tokenizer> BuiltinBpe() {
  VocabData d;
  d.model = "gpt2";
  for (int b = 0x21; b <= 0x7E; ++b) d.tokens.push_back(std::string(1, static_cast<char>(b)));
  for (const char* t : {"\xc4\xa0", "he", "ll", "hell", "hello", "\xc4\xa0w", "<|endoftext|>", "<|im_start|>"})
    d.tokens.push_back(t);
  d.types.assign(d.tokens.size(), 1);
  d.types[d.tokens.size() - 2] = 3;
  d.types[d.tokens.size() - 1] = 3;
  d.merges = {"h e", "l l", "he ll", "hell o", "\xc4\xa0 w"};
  auto v = Vocab::Create(std::move(d));
  if (!v.ok()) return nullptr;
  auto t = Tokenizer::Create(*v);
  return t.ok() ? std::move(t).value() : nullptr;
}

std::unique_ptr<Tokenizer> BuiltinSpm() {
  VocabData d;
  d.model = "llama";
  d.tokens = {"<unk>", "<s>", "</s>"};
  d.types = {2, 3, 3};
  d.scores = {0, 0, 0};
  char hex[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
    d.tokens.push_back(hex);
    d.types.push_back(6);
    d.scores.push_back(0);
  }
  const char* pieces[] = {"\xe2\x96\x81", "\xe2\x96\x81h", "he", "ll", "o", "\xe2\x96\x81hello", "\xc3\xa9", "\xe2\x96\x81w"};
  float score = -1;
  for (const char* p : pieces) {
    d.tokens.push_back(p);
    d.types.push_back(1);
    d.scores.push_back(score -= 0.5f);
  }
  auto v = Vocab::Create(std::move(d));
  if (!v.ok()) return nullptr;
  auto t = Tokenizer::Create(*v);
  return t.ok() ? std::move(t).value() : nullptr;
}

std::vector<std::unique_ptr<Tokenizer>>* Tokenizers() {
  auto* all = new std::vector<std::unique_ptr<Tokenizer>>();
  if (auto t = BuiltinBpe()) all->push_back(std::move(t));
  if (auto t = BuiltinSpm()) all->push_back(std::move(t));
  std::string shared = "../shared";
  if (const char* env = std::getenv("SWARMKV_SHARED_DIR"); env != nullptr && *env) shared = env;
  for (const char* name : {"llama-spm", "gpt-2", "phi-3", "deepseek-coder", "deepseek-llm", "falcon", "starcoder", "mpt",
                           "refact", "bert-bge"}) {
    auto t = Tokenizer::Load(shared + "/llamacpp-data/vocab/ggml-vocab-" + name + ".gguf");
    if (t.ok()) all->push_back(std::move(t).value());
  }
  std::fprintf(stderr, "tokenizer_fuzzer: %zu vocabularies (%s)\n", all->size(),
               all->size() > 2 ? "built-in + shared" : "built-in only: no shared llamacpp-data/vocab");
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::vector<std::unique_ptr<Tokenizer>>* tokenizers = Tokenizers();  // once; never freed
  if (size < 1 || tokenizers->empty() || size > (64 << 10)) return 0;
  const Tokenizer& tok = *(*tokenizers)[data[0] % tokenizers->size()];
  EncodeOptions o;
  o.add_special = (data[0] & 0x40) != 0;
  o.parse_special = (data[0] & 0x80) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<int32_t> ids = tok.Encode(text, o);
  for (int32_t id : ids)
    if (!tok.vocab().IsValid(id)) std::abort();  // an id outside the vocabulary
  if (tok.Encode(text, o) != ids) std::abort();  // not a pure function of the text
  if (!tok.Decode(ids).ok()) std::abort();       // its own ids must decode
  return 0;
}
