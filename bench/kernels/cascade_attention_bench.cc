// Shared-prefix (cascade) attention vs per-sequence attention, one layer of SmolLM2-135M's
// shape (9 heads, 3 KV heads, head dim 64, f16 KV, 32-token blocks): N sequences share a
// 8192-token context (256 blocks) and each has a private 16-token tail; one decode query each.
// per_sequence = N PagedAttention calls (the baseline, what the engine did before), cascade = one
// PagedAttentionShared call. Same process, both modes for every N; run with
// --benchmark_enable_random_interleaving=true --benchmark_repetitions=R so load hits both alike.
// Counter ms_per_agent: wall time per sequence.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/attention_cascade.h"
#include "kernels/kv_test_layout.h"
#include "kernels/quants.h"

namespace swarmkv {
namespace {

constexpr int kKvHeads = 3, kHeads = 9, kD = 64, kB = 32;
constexpr int64_t kPrefixBlocks = 256, kTail = 16;

// A layer view laid out by hand (kernels/kv_test_layout.h: V before K, rows padded by 16 bytes):
// the kernel is seen to read only the view's offsets and strides.
KvLayerLayout TestLayout(TensorType kt, TensorType vt, int heads, int64_t dk, int64_t dv, int block_tokens,
                         int layer, int64_t* layer_bytes) {
  *layer_bytes = testing_kv::LayerBytes(kt, vt, heads, dk, dv, block_tokens);
  return testing_kv::LayerView(kt, vt, heads, dk, dv, block_tokens, layer);
}

struct Swarm {
  int64_t layer_bytes = 0;
  KvLayerLayout layout = TestLayout(TensorType::kF16, TensorType::kF16, kKvHeads, kD, kD, kB, 0, &layer_bytes);
  std::vector<std::unique_ptr<std::vector<uint8_t>>> storage;
  std::vector<std::vector<const uint8_t*>> tables;
  std::vector<int64_t> positions;
  std::vector<float> q, out;

  const uint8_t* Block(std::mt19937& rng, int tokens) {
    storage.push_back(std::make_unique<std::vector<uint8_t>>(layer_bytes));
    std::normal_distribution<float> d;
    std::vector<float> k(kKvHeads * kD), v(kKvHeads * kD);
    for (int t = 0; t < tokens; ++t) {
      for (auto& x : k) x = d(rng);
      for (auto& x : v) x = d(rng);
      (void)WriteKvRow(layout, storage.back()->data(), t, k.data(), v.data());
    }
    return storage.back()->data();
  }

  explicit Swarm(int n) {
    std::mt19937 rng(1);
    std::vector<const uint8_t*> prefix;
    for (int64_t b = 0; b < kPrefixBlocks; ++b) prefix.push_back(Block(rng, kB));
    for (int i = 0; i < n; ++i) {
      tables.push_back(prefix);
      tables.back().push_back(Block(rng, kTail));
      positions.push_back(kPrefixBlocks * kB + kTail - 1);
    }
    std::normal_distribution<float> d;
    q.resize(int64_t{n} * kHeads * kD);
    for (auto& x : q) x = d(rng);
    out.resize(int64_t{n} * kHeads * kD);
  }
};

void BM_SwarmAttention(benchmark::State& state, bool cascade, bool llama) {
  const int n = static_cast<int>(state.range(0));
  static ThreadPool two(2);
  Swarm s(n);
  AttentionParams p;
  p.n_heads = kHeads;
  p.pool = state.range(1) == 2 ? &two : nullptr;
  p.llama_cpp_f16_v = llama;
  std::vector<AttentionSequence> seqs;
  for (int i = 0; i < n; ++i) {
    seqs.push_back({PagedKv{s.tables[i].data(), static_cast<int64_t>(s.tables[i].size()), s.layout},
                    s.q.data() + int64_t{i} * kHeads * kD, kHeads * kD, &s.positions[i], 1,
                    s.out.data() + int64_t{i} * kHeads * kD, kHeads * kD});
  }
  for (auto _ : state) {
    if (cascade) {
      if (!PagedAttentionShared(p, seqs).ok()) state.SkipWithError("attention failed");
    } else {
      for (const AttentionSequence& a : seqs)
        if (!PagedAttention(p, a.kv, a.q, a.q_stride, a.positions, 1, a.out, a.out_stride).ok())
          state.SkipWithError("attention failed");
    }
    benchmark::DoNotOptimize(s.out.data());
  }
  state.counters["ms_per_agent"] =
      benchmark::Counter(static_cast<double>(n) * 1e-3, benchmark::Counter::kIsIterationInvariantRate |
                                                            benchmark::Counter::kInvert);
}

void SwarmArgs(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2})
    for (int n : {1, 2, 4, 10, 32}) b->Args({n, threads});
  b->ArgNames({"agents", "threads"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK_CAPTURE(BM_SwarmAttention, per_sequence_llama, false, true)->Name("swarm_attention/ctx8192/llama/per_sequence")->Apply(SwarmArgs);
BENCHMARK_CAPTURE(BM_SwarmAttention, cascade_llama, true, true)->Name("swarm_attention/ctx8192/llama/cascade")->Apply(SwarmArgs);
BENCHMARK_CAPTURE(BM_SwarmAttention, per_sequence_f32, false, false)->Name("swarm_attention/ctx8192/f32/per_sequence")->Apply(SwarmArgs);
BENCHMARK_CAPTURE(BM_SwarmAttention, cascade_f32, true, false)->Name("swarm_attention/ctx8192/f32/cascade")->Apply(SwarmArgs);

}  // namespace
}  // namespace swarmkv
