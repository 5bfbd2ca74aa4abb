// `swarmkv bench`: prefill and decode speed like llama-bench — pp<N> (prompt tokens/s) and
// tg<N> (generated tokens/s), each repeated -r times after a warm-up, reported as mean ± sd in a
// table and, with --json, as JSON. Prompts are random token ids, different per repetition, so no
// run is served from the prefix cache except the -d depth it is asked to sit on.
//
// Decode is bound by memory reads: the tg result also says how many bytes a generated token reads
// (every weight once — the embedding table only when it doubles as the output matrix — plus
// the KV of the positions attended, averaged over the run) and what fraction of this machine's
// read bandwidth that is (measured here by summing a 256 MiB buffer with the bench's threads,
// best of 3) — "read_bw_fraction" in --json.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <thread>
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
#include "gguf/gguf_file.h"

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

// Bytes one decode step reads at context position `pos`: weights, then the KV of `pos` tokens.
struct DecodeBytes {
  double weights = 0;
  double kv_per_position = 0;  // 0 when the file lacks the attention metadata
};

Result<DecodeBytes> DecodeBytesOf(const std::string& path, const std::string& kv_type) {
  SKV_ASSIGN_OR_RETURN(auto file, GgufFile::Open(path));
  DecodeBytes b;
  const bool tied = file->FindTensor("output.weight") == nullptr;
  // Mixture of experts: a decode token reads expert_used_count of expert_count experts' matrices.
  double expert_fraction = 1.0;
  if (auto a = file->GetString("general.architecture"); a.ok()) {
    auto n = file->GetU32(std::string(*a) + ".expert_count");
    auto k = file->GetU32(std::string(*a) + ".expert_used_count");
    if (n.ok() && k.ok() && *n > 0 && *k <= *n) expert_fraction = static_cast<double>(*k) / *n;
  }
  for (const GgufTensorInfo& t : file->tensors()) {
    if (t.name.find("_exps.") != std::string::npos) {
      b.weights += static_cast<double>(t.size_bytes) * expert_fraction;
    } else if (t.name == "token_embd.weight" && !tied) {
      b.weights += static_cast<double>(t.size_bytes) / static_cast<double>(std::max<uint64_t>(1, t.ne(1)));  // one row
    } else {
      b.weights += static_cast<double>(t.size_bytes);
    }
  }
  auto arch = file->GetString("general.architecture");
  if (!arch.ok()) return b;
  const std::string a(*arch);
  auto layers = file->GetU32(a + ".block_count");
  auto heads = file->GetU32(a + ".attention.head_count");
  auto kv_heads = file->GetU32(a + ".attention.head_count_kv");
  auto embd = file->GetU32(a + ".embedding_length");
  if (!layers.ok() || !heads.ok() || !embd.ok() || *heads == 0) return b;
  const uint32_t hkv = kv_heads.ok() ? *kv_heads : *heads;
  auto kl = file->GetU32(a + ".attention.key_length");
  auto vl = file->GetU32(a + ".attention.value_length");
  const double dk = kl.ok() ? *kl : *embd / *heads, dv = vl.ok() ? *vl : *embd / *heads;
  const double elem = kv_type == "q8_0" ? 34.0 / 32 : kv_type == "q4_0" ? 18.0 / 32 : 2.0;
  b.kv_per_position = *layers * hkv * (dk + dv) * elem;
  return b;
}

// Bytes per second `threads` threads read from a buffer far larger than the caches (best of 3).
double MeasureReadBandwidth(int threads) {
  const size_t n = (size_t{256} << 20) / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  threads = std::max(1, threads);
  std::vector<uint64_t> sums(static_cast<size_t>(threads) * 8);
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const size_t begin = n * t / threads, end = n * (t + 1) / threads;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        size_t i = begin;
        for (; i + 4 <= end; i += 4) {
          s0 += buf[i];
          s1 += buf[i + 1];
          s2 += buf[i + 2];
          s3 += buf[i + 3];
        }
        for (; i < end; ++i) s0 += buf[i];
        sums[static_cast<size_t>(t) * 8] = s0 + s1 + s2 + s3;  // (one cache line per thread)
      });
    }
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / s);
  }
  uint64_t keep = 0;
  for (uint64_t v : sums) keep += v;
  if (keep == 42) std::fprintf(stderr, " ");  // (keeps the sums alive)
  return best;
}

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

  // Decode as a fraction of the read bandwidth (see the header).
  double bytes_per_token = 0, read_bw = 0;
  if (o.n_gen > 0) {
    auto db = DecodeBytesOf(o.model, o.kv_type);
    if (db.ok()) {
      const double mean_pos = std::max(1, o.depth) + 1 + o.n_gen / 2.0;
      bytes_per_token = db->weights + db->kv_per_position * mean_pos;
      read_bw = MeasureReadBandwidth(o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency()));
    }
  }
  auto bw_fraction = [&](const Result1& r) { return read_bw > 0 ? bytes_per_token * r.mean() / read_bw : 0.0; };

  std::printf("| model | kv | threads | test | t/s |\n|---|---|---|---|---|\n");
  for (const Result1& r : results) {
    std::printf("| %s | %s | %d | %s | %.2f ± %.2f |\n", o.model.c_str(), o.kv_type.c_str(), o.threads, r.test.c_str(),
                r.mean(), r.sd());
  }
  for (const Result1& r : results) {
    if (r.n_gen > 0 && read_bw > 0) {
      std::printf("%s reads %.1f MiB per token: %.2f GB/s, %.0f%% of the measured read bandwidth (%.2f GB/s)\n",
                  r.test.c_str(), bytes_per_token / (1 << 20), bytes_per_token * r.mean() / 1e9, 100 * bw_fraction(r),
                  read_bw / 1e9);
    }
  }
  if (o.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const Result1& r : results) {
      j.push_back({{"model", o.model}, {"model_desc", e.Describe()}, {"kv_type", o.kv_type}, {"threads", o.threads},
                   {"test", r.test}, {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen}, {"n_depth", o.depth},
                   {"avg_ts", r.mean()}, {"stddev_ts", r.sd()}, {"samples_ts", r.samples}});
      if (r.n_gen > 0 && read_bw > 0) {
        j.back()["bytes_per_token"] = bytes_per_token;
        j.back()["read_bw_gbps"] = read_bw / 1e9;
        j.back()["read_bw_fraction"] = bw_fraction(r);
      }
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
