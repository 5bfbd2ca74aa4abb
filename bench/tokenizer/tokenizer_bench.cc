// tokenizer_bench: MB/s of Tokenizer::Encode on 1 MiB inputs, one JSON line per (tokenizer, input).
//
// Inputs: "mixed" (English prose, C++/Python code, and non-Latin text with emoji, interleaved
// deterministically) and pathological ones (10 MB... reduced to 1 MiB here: one repeated letter,
// spaces only, special-token look-alikes, invalid UTF-8). Baseline in the same run: the same text
// through UTF-8 decoding plus the pre-tokenizer alone ("pretokenize"), i.e. everything but the
// merges, so a regression in the merge loop shows as a widening gap.
//
// Usage: tokenizer_bench [--shared DIR] [--repeat N]   (SWARMKV_SHARED_DIR also works)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace swarmkv {
namespace {

constexpr size_t kMiB = 1 << 20;

std::string MixedText() {
  static const char* kParts[] = {
      "The quick brown fox jumps over the lazy dog. It wasn't the first time; they'd done it before. ",
      "In 2024, the team shipped 3 releases and fixed 1,234 bugs (see https://example.com/issues?id=42).\n",
      "    for (size_t i = 0; i < n; ++i) {\n      sum += a[i] * b[i];  // dot product\n    }\n",
      "def tokenize(text: str) -> list[int]:\n    return [vocab[w] for w in text.split()]\n\n",
      "Привет, мир! Это тест токенизатора. ",
      "日本語のテキストと中文文本混合在一起。",
      "Emoji: 🦙🚀✨ — naïve café, Ærøskøbing, Straße. ",
      "\t\tif (x != nullptr && x->ok()) return x->value();\n",
      "مرحبا بالعالم ",
      "<html><body class=\"main\">Hello &amp; welcome</body></html>\n",
  };
  std::mt19937 rng(1234);
  std::string out;
  while (out.size() < kMiB) out += kParts[rng() % (sizeof(kParts) / sizeof(kParts[0]))];
  // Cut at a character boundary.
  size_t cut = kMiB;
  while (cut > 0 && (static_cast<uint8_t>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out;
}

std::string Repeat(const std::string& unit) {
  std::string out;
  while (out.size() < kMiB) out += unit;
  out.resize(kMiB);
  return out;
}

struct Input {
  std::string name;
  std::string text;
};

double Seconds(const std::chrono::steady_clock::time_point& t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <typename Fn>
double BestSeconds(int repeat, Fn&& fn) {
  double best = 1e30;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, Seconds(t0));
  }
  return best;
}

void Report(const std::string& tokenizer, const std::string& kind, const std::string& stage, const Input& in,
            double seconds, size_t tokens) {
  std::printf(
      "{\"bench\":\"tokenizer\",\"tokenizer\":\"%s\",\"kind\":\"%s\",\"stage\":\"%s\",\"input\":\"%s\","
      "\"bytes\":%zu,\"tokens\":%zu,\"seconds\":%.6f,\"mb_per_s\":%.2f}\n",
      tokenizer.c_str(), kind.c_str(), stage.c_str(), in.name.c_str(), in.text.size(), tokens, seconds,
      in.text.size() / 1e6 / seconds);
  std::fflush(stdout);
}

struct Case {
  std::string name;
  std::string file;
  std::string pre_override;  // "" = the file's own
};

int Main(int argc, char** argv) {
  std::string shared = std::getenv("SWARMKV_SHARED_DIR") ? std::getenv("SWARMKV_SHARED_DIR") : SWARMKV_SHARED_DIR_DEFAULT;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--shared" && i + 1 < argc) shared = argv[++i];
    else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: tokenizer_bench [--shared DIR] [--repeat N]\n");
      return 2;
    }
  }
  const std::vector<Input> inputs = {
      {"mixed", MixedText()},
      {"one_letter", Repeat("a")},
      {"spaces", Repeat(" ")},
      {"special_lookalikes", Repeat("<|endoftext|<|im_start<s</s><|endoftext|>")},
      {"invalid_utf8", Repeat("\xFF\xC3(\xE2\x82")},
  };
  // llama3 / qwen2 run on the gpt-2 vocabulary with their pre-tokenizer (no vocabulary of theirs
  // is in ../shared): the split rules and merge loop are theirs, the merge table is gpt-2's.
  const std::vector<Case> cases = {
      {"llama-spm", "llamacpp-data/vocab/ggml-vocab-llama-spm.gguf", ""},
      {"stories260K", "models/stories260K.gguf", ""},
      {"gpt-2", "llamacpp-data/vocab/ggml-vocab-gpt-2.gguf", ""},
      {"llama3-pre", "llamacpp-data/vocab/ggml-vocab-gpt-2.gguf", "llama-bpe"},
      {"qwen2-pre", "llamacpp-data/vocab/ggml-vocab-gpt-2.gguf", "qwen2"},
      {"deepseek-coder", "llamacpp-data/vocab/ggml-vocab-deepseek-coder.gguf", ""},
  };
  int loaded = 0;
  for (const Case& c : cases) {
    auto data = Vocab::ReadData(shared + "/" + c.file);
    if (!data.ok()) {
      std::fprintf(stderr, "skip %s: %s\n", c.name.c_str(), data.status().ToString().c_str());
      continue;
    }
    if (!c.pre_override.empty()) data->pre = c.pre_override;
    auto vocab = Vocab::Create(std::move(*data));
    if (!vocab.ok()) {
      std::fprintf(stderr, "skip %s: %s\n", c.name.c_str(), vocab.status().ToString().c_str());
      continue;
    }
    auto tok = Tokenizer::Create(*vocab);
    if (!tok.ok()) continue;
    ++loaded;
    const std::string kind = (*vocab)->model() == TokenizerModel::kSpm ? "spm" : "bpe";
    for (const Input& in : inputs) {
      size_t tokens = 0;
      const double s = BestSeconds(repeat, [&] {
        tokens = (*tok)->Encode(in.text, {.add_special = false, .parse_special = true}).size();
      });
      Report(c.name, kind, "encode", in, s, tokens);
      if (kind == "bpe" && in.name == "mixed") {
        size_t pieces = 0;
        const double b = BestSeconds(repeat, [&] {
          pieces = PreTokenize((*vocab)->pre_tokenizer(), unicode::DecodeUtf8(in.text)).size();
        });
        Report(c.name, kind, "pretokenize_baseline", in, b, pieces);
      }
    }
  }
  if (loaded == 0) {
    std::fprintf(stderr, "no vocabulary found under %s (set --shared or SWARMKV_SHARED_DIR)\n", shared.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace swarmkv

int main(int argc, char** argv) { return swarmkv::Main(argc, argv); }
