// Benchmarks of the llama.cpp-order softmax steps (attention_llama.h) and the exp beneath them:
// libm's expf per key (the baseline, same bits) against the AVX2 versions, in the same run.
// One "key" = one score of one head; a 4096-token context is walked in blocks of 32 keys, as
// LlamaCppF16VAttention does per (query, head).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/attention_llama.h"
#include "kernels/cpu_features.h"
#include "kernels/expf_avx2.h"

namespace swarmkv {
namespace {

constexpr int kContext = 4096, kBlock = 32;

std::vector<float> Scores() {  // a decode query's scores: a few running maxima early on
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> s(kContext);
  for (auto& x : s) x = d(rng);
  return s;
}

void BM_SoftmaxSteps(benchmark::State& state, bool vector_exp) {
  if (vector_exp && !IsaSupported(Isa::kAvx2)) return state.SkipWithError("no AVX2");
  const std::vector<float> scores = Scores();
  std::vector<float> ms(kBlock), vs(kBlock);
  for (auto _ : state) {
    float max = -INFINITY, sum = 0.0f;
    for (int b = 0; b < kContext; b += kBlock) {
      internal::SoftmaxSteps(scores.data() + b, kBlock, vector_exp, &max, &sum, ms.data(), vs.data());
      benchmark::DoNotOptimize(ms.data());
    }
    benchmark::DoNotOptimize(sum);
  }
  state.counters["keys_per_s"] = benchmark::Counter(double{kContext} * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_SoftmaxSteps, libm, false)->Name("softmax_steps/ctx4096_block32/libm")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_SoftmaxSteps, avx2, true)->Name("softmax_steps/ctx4096_block32/avx2")->Unit(benchmark::kMicrosecond);

void BM_Expf(benchmark::State& state, bool avx2) {
  if (avx2 && !IsaSupported(Isa::kAvx2)) return state.SkipWithError("no AVX2");
  std::vector<float> x = Scores(), y(x.size());
  for (auto& v : x) v = -std::fabs(v);
  for (auto _ : state) {
    if (avx2) {
      internal::ExpfAvx2(x.data(), y.data(), static_cast<int64_t>(x.size()));
    } else {
      for (size_t i = 0; i < x.size(); ++i) y[i] = std::exp(x[i]);
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["exps_per_s"] = benchmark::Counter(double{kContext} * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_Expf, libm, false)->Name("expf/4096/libm")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Expf, avx2, true)->Name("expf/4096/avx2")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace swarmkv
