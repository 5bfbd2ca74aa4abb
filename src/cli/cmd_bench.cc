// `swarmkv bench`: prefill and decode speed like llama-bench — pp<N> (prompt tokens/s) and
// tg<N> (generated tokens/s), each repeated -r times after a warm-up, reported as mean ± sd in a
// table and, with --json, as JSON. Prompts are random token ids, different per repetition, so no
// run is served from the prefix cache except the -d depth it is asked to sit on.
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "engine/local_engine.h"
#include "engine/rng.h"
#include "engine/wait_observer.h"

namespace swarmkv::cli {
namespace {

struct BenchOptions {
  std::string model;
  int n_prompt = 512;
  int n_gen = 128;
  int threads = 0;
  int reps = 5;
  int depth = 0;
  std::string kv_type = "f16";
  int batch = 512;
  bool json = false;
};


Result<GenerationStats> Generate(LocalEngine& e, std::vector<int32_t> prompt, int n_gen) {
  GenerationRequest r;
  r.prompt_tokens = std::move(prompt);
  r.max_new_tokens = n_gen;
  r.ignore_eos = true;
  r.sampling.temperature = 0.0f;
  r.sampling.has_seed = true;
  auto obs = std::make_shared<WaitObserver>();
  SKV_RETURN_IF_ERROR(e.service()->Submit(std::move(r), obs).status());
  obs->Wait();
  SKV_RETURN_IF_ERROR(obs->status);
  return obs->stats;
}

std::vector<int32_t> RandomTokens(Rng& rng, int n, int32_t vocab, int32_t bos) {
  std::vector<int32_t> t;
  if (bos >= 0) t.push_back(bos);
  while (static_cast<int>(t.size()) < n) t.push_back(static_cast<int32_t>(rng.Next() % static_cast<uint64_t>(vocab)));
  return t;
}

struct Result1 {
  std::string test;
  int n_prompt = 0, n_gen = 0;
  std::vector<double> samples;  // tokens/s
  double mean() const {
    double s = 0;
    for (double x : samples) s += x;
    return samples.empty() ? 0 : s / samples.size();
  }
  double sd() const {
    if (samples.size() < 2) return 0;
    const double m = mean();
    double s = 0;
    for (double x : samples) s += (x - m) * (x - m);
    return std::sqrt(s / (samples.size() - 1));
  }
};

int Bench(const BenchOptions& o) {
  LocalEngineOptions eo;
  eo.model_path = o.model;
  eo.threads = o.threads;
  if (o.kv_type == "f16") eo.kv_type = TensorType::kF16;
  else if (o.kv_type == "bf16") eo.kv_type = TensorType::kBF16;
  else if (o.kv_type == "q8_0") eo.kv_type = TensorType::kQ8_0;
  else if (o.kv_type == "q4_0") eo.kv_type = TensorType::kQ4_0;
  else {
    std::cerr << "swarmkv bench: --kv-type '" << o.kv_type << "': expected f16, bf16, q8_0 or q4_0\n";
    return 2;
  }
  eo.scheduler.max_step_tokens = o.batch;
  eo.scheduler.max_running = 1;
  auto engine = LocalEngine::Create(eo);
  if (!engine.ok()) {
    std::cerr << "swarmkv bench: " << engine.status().ToString() << "\n";
    return 1;
  }
  LocalEngine& e = **engine;
  const int32_t vocab = e.vocab_size(), bos = e.bos();
  Rng rng(12345);
  std::vector<Result1> results;
  auto fail = [&](const Status& s) {
    std::cerr << "swarmkv bench: " << s.ToString() << "\n";
    return 1;
  };
  const std::string depth_suffix = o.depth > 0 ? " @ d" + std::to_string(o.depth) : "";
  if (o.n_prompt > 0) {
    Result1 r{"pp" + std::to_string(o.n_prompt) + depth_suffix, o.n_prompt, 0, {}};
    for (int rep = -1; rep < o.reps; ++rep) {  // rep -1: warm-up
      std::vector<int32_t> prompt = RandomTokens(rng, o.depth, vocab, bos);
      if (o.depth > 0) {
        // Put the depth into the cache first; the timed run then computes only n_prompt tokens.
        auto warm = Generate(e, prompt, 1);
        if (!warm.ok()) return fail(warm.status());
      }
      std::vector<int32_t> more = RandomTokens(rng, o.n_prompt + (prompt.empty() && bos >= 0 ? 0 : 1), vocab,
                                               prompt.empty() ? bos : -1);
      prompt.insert(prompt.end(), more.begin(), more.end());
      auto st = Generate(e, prompt, 1);
      if (!st.ok()) return fail(st.status());
      const int computed = st->prompt_tokens - st->prompt_tokens_reused;
      if (rep >= 0) r.samples.push_back(computed / (st->prefill_ns / 1e9));
    }
    results.push_back(r);
  }
  if (o.n_gen > 0) {
    Result1 r{"tg" + std::to_string(o.n_gen) + depth_suffix, 0, o.n_gen, {}};
    for (int rep = -1; rep < o.reps; ++rep) {
      std::vector<int32_t> prompt = RandomTokens(rng, std::max(1, o.depth), vocab, bos);
      auto st = Generate(e, prompt, o.n_gen + 1);
      if (!st.ok()) return fail(st.status());
      // decode_ns spans the n_gen forward steps after the first sampled token.
      if (rep >= 0) r.samples.push_back(o.n_gen / (st->decode_ns / 1e9));
    }
    results.push_back(r);
  }

  std::printf("| model | kv | threads | test | t/s |\n|---|---|---|---|---|\n");
  for (const Result1& r : results) {
    std::printf("| %s | %s | %d | %s | %.2f ± %.2f |\n", o.model.c_str(), o.kv_type.c_str(), o.threads, r.test.c_str(),
                r.mean(), r.sd());
  }
  if (o.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const Result1& r : results) {
      j.push_back({{"model", o.model}, {"model_desc", e.Describe()}, {"kv_type", o.kv_type}, {"threads", o.threads},
                   {"test", r.test}, {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen}, {"n_depth", o.depth},
                   {"avg_ts", r.mean()}, {"stddev_ts", r.sd()}, {"samples_ts", r.samples}});
    }
    std::printf("%s\n", j.dump(2).c_str());
  }
  return 0;
}

CommandRegistrar reg("bench", "Measure prefill and decode tokens/s like llama-bench", [](CLI::App& app) -> CommandRun {
  auto o = std::make_shared<BenchOptions>();
  app.add_option("-m,--model", o->model, "GGUF model file")->required();
  app.add_option("-p,--n-prompt", o->n_prompt, "prompt tokens of the pp test (0: skip)")->check(CLI::NonNegativeNumber);
  app.add_option("-n,--n-gen", o->n_gen, "generated tokens of the tg test (0: skip)")->check(CLI::NonNegativeNumber);
  app.add_option("-t,--threads", o->threads, "threads (default: physical cores)");
  app.add_option("-r,--repetitions", o->reps, "timed repetitions per test")->check(CLI::PositiveNumber);
  app.add_option("-d,--n-depth", o->depth, "tokens of context already in the KV cache")->check(CLI::NonNegativeNumber);
  app.add_option("--kv-type", o->kv_type, "KV cache dtype: f16, bf16, q8_0, q4_0");
  app.add_option("-b,--batch-size", o->batch, "prefill tokens per step")->check(CLI::PositiveNumber);
  app.add_flag("--json", o->json, "also print the results as JSON");
  return [o] { return Bench(*o); };
});

}  // namespace
}  // namespace swarmkv::cli
