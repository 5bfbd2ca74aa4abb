// mask_bench: what constrained decoding adds to one decode step, on a real vocabulary.
//
// For a JSON schema, generates outputs the way the engine does — Allowed() (mask lookup, or the
// trie walk on a new state), Sampler::Sample(logits, mask), Accept() — with random logits over the
// whole vocabulary, and times the same Sampler::Sample(logits) without a mask on the same rows
// as the baseline (thread CPU time: the box is shared). Pass 1 starts with an empty mask cache
// (cold: a new schema's first request); pass 2 reuses it (warm: every later request).
// Output: one JSON object per pass: {"pass","tokens","mask_us_per_token","sample_masked_us",
// "sample_plain_us","overhead_us_per_token","cache_misses"}.
//
// Usage: mask_bench MODEL.gguf [--tokens 400] [--temperature 0.8]
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "engine/sampler.h"
#include "structured/token_mask.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv {
namespace {

double CpuUs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) * 1e-3;
}

const char* kSchema = R"({"type":"object","properties":{"name":{"type":"string","maxLength":24},
  "tags":{"type":"array","items":{"type":"string","maxLength":12},"maxItems":8},"score":{"type":"number"},
  "kind":{"enum":["a","b","c"]},"ok":{"type":"boolean"}},"required":["name","tags","score","kind","ok"],
  "additionalProperties":false})";

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: mask_bench MODEL.gguf [--tokens N] [--temperature T]\n");
    return 2;
  }
  int tokens = 400;
  float temperature = 0.8f;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--tokens") tokens = std::atoi(argv[i + 1]);
    else if (a == "--temperature") temperature = static_cast<float>(std::atof(argv[i + 1]));
  }
  auto tok = Tokenizer::Load(argv[1]);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
    return 1;
  }
  const Vocab& v = (*tok)->vocab();
  std::vector<std::string> pieces(static_cast<size_t>(v.size()));
  for (int32_t t = 0; t < v.size(); ++t) {
    auto p = (*tok)->TokenToPiece(t);
    if (p.ok()) pieces[static_cast<size_t>(t)] = *p;
  }
  double t0 = CpuUs();
  auto trie = TokenTrie::Build(pieces, v.eog_tokens());
  const double trie_ms = (CpuUs() - t0) / 1e3;
  auto g = JsonGrammar::Compile(nlohmann::ordered_json::parse(kSchema));
  if (!g.ok()) return 1;
  auto masks = std::make_shared<GrammarMasks>(std::move(g).value(), trie, MatcherOptions{});
  std::printf("{\"vocab\": %d, \"trie_nodes\": %zu, \"trie_build_ms\": %.1f}\n", v.size(), trie->nodes().size(), trie_ms);

  SamplingParams sp;
  sp.temperature = temperature;
  sp.top_k = 40;
  sp.top_p = 0.95f;
  sp.min_p = 0.05f;
  std::vector<float> logits(static_cast<size_t>(v.size()));
  for (int pass = 1; pass <= 2; ++pass) {
    std::mt19937_64 rng(static_cast<uint64_t>(pass));
    std::normal_distribution<float> nd(0.0f, 3.0f);
    double mask_us = 0, masked_us = 0, plain_us = 0;
    int n = 0, outputs = 0;
    const auto before = masks->stats();
    while (n < tokens) {
      sp.seed = static_cast<uint64_t>(pass * 1000 + outputs);
      auto masked = Sampler::Create(sp, v.size());
      auto plain = Sampler::Create(sp, v.size());
      JsonConstraint c(masks);
      ++outputs;
      while (n < tokens) {
        for (auto& l : logits) l = nd(rng);
        double a = CpuUs();
        auto allowed = c.Allowed();
        double b = CpuUs();
        if (!allowed.ok()) return 1;
        const int32_t tk = masked->Sample(logits, *allowed);
        double d = CpuUs();
        plain->Sample(logits);
        double e = CpuUs();
        if (!c.Accept(tk).ok()) return 1;
        const bool done = c.Complete() || trie->is_eog(tk);
        double f = CpuUs();
        mask_us += (b - a) + (f - e);
        masked_us += d - b;
        plain_us += e - d;
        ++n;
        if (done) break;
      }
    }
    const auto after = masks->stats();
    std::printf("{\"pass\": \"%s\", \"tokens\": %d, \"outputs\": %d, \"mask_us_per_token\": %.1f, \"sample_masked_us\": %.1f, "
                "\"sample_plain_us\": %.1f, \"overhead_us_per_token\": %.1f, \"cache_misses\": %lld}\n",
                pass == 1 ? "cold" : "warm", n, outputs, mask_us / n, masked_us / n, plain_us / n,
                (mask_us + masked_us - plain_us) / n, static_cast<long long>(after.misses - before.misses));
  }
  return 0;
}

}  // namespace
}  // namespace swarmkv

int main(int argc, char** argv) { return swarmkv::Main(argc, argv); }
