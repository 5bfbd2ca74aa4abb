// Matmul and attention throughput per weight type and ISA, scalar as the in-run baseline.
//
// Matmul shapes (in x out): decode = 1 token, batch3 = 3 tokens (a few sequences decoding
// together), prefill = 64 tokens, over the FFN matrices of
// SmolLM2-135M (576 -> 1536) and Qwen2.5-0.5B (896 -> 4864); K-quants need in % 256 == 0, so
// they run the down projections (1536 -> 576, 4864 -> 896). Counters: GFLOP/s (2*in*out*tokens)
// and weight GB/s (bytes of W streamed per call). Attention: one decode query at position 4095
// over 4096 tokens of f16 KV, SmolLM2-135M's shape (9 heads, 3 KV heads, head dim 64), counter
// KV GB/s, in both f16-V modes (llama.cpp's f16 accumulator, and f32 blocks/spans).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/attention_llama.h"
#include "kernels/fp16.h"
#include "kernels/fp16.h"
#include "kernels/matmul.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"
#include "memory/kv_layout.h"

namespace swarmkv {
namespace {

std::vector<uint8_t> RandomWeights(TensorType type, int64_t rows, int64_t cols) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 0.05f);
  const int64_t rb = RowBytes(type, cols);
  std::vector<uint8_t> out(rb * rows);
  if (CanQuantize(type)) {
    std::vector<float> f(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& x : f) x = d(rng);
      (void)QuantizeRow(type, f.data(), out.data() + r * rb, cols);
    }
    return out;
  }
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  const int bb = BlockBytes(type);
  for (int64_t i = 0; i < rows * cols / 256; ++i) {  // sane f16 scales
    uint8_t* blk = out.data() + i * bb;
    const f16_t s = F32ToF16(0.01f);
    if (type == TensorType::kQ6_K) {
      std::memcpy(blk + bb - 2, &s, 2);
    } else {
      std::memcpy(blk, &s, 2);
      std::memcpy(blk + 2, &s, 2);
    }
  }
  return out;
}

ThreadPool* PoolFor(int threads) {
  static ThreadPool two(2);
  return threads == 2 ? &two : nullptr;
}

void BM_Matmul(benchmark::State& state, TensorType type, Isa isa, int64_t in, int64_t out,
               int64_t tokens, int threads) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  auto w = RandomWeights(type, out, in);
  std::vector<float> x(tokens * in, 0.1f), y(tokens * out);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 113) / 113.0f - 0.5f;
  const WeightMatrix wm{type, w.data(), out, in, 0};
  Activations act;
  (void)act.Prepare(VecDotType(type), x.data(), tokens, in, in);
  MatmulOptions opt{isa, PoolFor(threads)};
  for (auto _ : state) {
    // Include the activation conversion: the engine pays it once per input row.
    (void)act.Prepare(VecDotType(type), x.data(), tokens, in, in);
    (void)Matmul(wm, act, y.data(), out, opt);
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * in * out * tokens * iters / 1e9, benchmark::Counter::kIsRate);
  state.counters["weight_GBs"] = benchmark::Counter(static_cast<double>(w.size()) * iters / 1e9, benchmark::Counter::kIsRate);
}

// A decode step's weight traffic (1 token, or 3 sequences decoding together): the 7 matmuls of each of 30 SmolLM2-135M layers (q, k, v, o,
// gate, up, down; 113 MiB in Q8_0) plus the 49152-row output matrix, one token, each matrix its
// own parallel region — so the weights stream from DRAM as in `swarmkv bench -n`, not from cache.
void BM_DecodeStream(benchmark::State& state, TensorType type, int tokens, int threads) {
  struct Mat { int64_t in, out; };
  std::vector<Mat> shapes;
  for (int l = 0; l < 30; ++l) {
    for (Mat m : {Mat{576, 576}, Mat{576, 192}, Mat{576, 192}, Mat{576, 576}, Mat{576, 1536}, Mat{576, 1536}, Mat{1536, 576}})
      shapes.push_back(m);
  }
  shapes.push_back({576, 49152});
  std::vector<std::vector<uint8_t>> ws;
  size_t bytes = 0;
  std::mt19937_64 rng(3);
  const f16_t scale = F32ToF16(0.01f);
  for (const Mat& m : shapes) {  // random quants, sane scales (quantizing 143 MiB takes minutes)
    std::vector<uint8_t> w(RowBytes(type, m.in) * m.out);
    for (size_t i = 0; i + 8 <= w.size(); i += 8) {
      const uint64_t r = rng();
      std::memcpy(w.data() + i, &r, 8);
    }
    for (size_t b = 0; b + BlockBytes(type) <= w.size(); b += BlockBytes(type)) std::memcpy(w.data() + b, &scale, 2);
    bytes += w.size();
    ws.push_back(std::move(w));
  }
  std::vector<float> x(tokens * 1536), y(tokens * 49152);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 113) / 113.0f - 0.5f;
  Activations act;
  MatmulOptions opt{ActiveIsa(), PoolFor(threads)};
  for (auto _ : state) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      (void)act.Prepare(VecDotType(type), x.data(), tokens, shapes[i].in, shapes[i].in);
      (void)Matmul(WeightMatrix{type, ws[i].data(), shapes[i].out, shapes[i].in, 0}, act, y.data(), shapes[i].out, opt);
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GBs"] = benchmark::Counter(static_cast<double>(bytes) * state.iterations() / 1e9,
                                                    benchmark::Counter::kIsRate);
}

void BM_AttentionDecode(benchmark::State& state, Isa isa, int threads, bool llama_mode) {
  const int heads = 9, kv_heads = 3, hd = 64, B = 32;
  const int64_t ctx = 4096, nblocks = ctx / B;
  // The production layout of one layer, from memory (its one definition).
  const KvLayout kv_layout = KvLayout::Create(KvShape{1, kv_heads, hd, hd, B, TensorType::kF16, TensorType::kF16}).value();
  const KvLayerLayout layout = kv_layout.LayerView(0);
  const int64_t block_bytes = static_cast<int64_t>(kv_layout.block_bytes());
  std::vector<uint8_t> storage(nblocks * block_bytes);
  std::vector<const uint8_t*> blocks(nblocks);
  std::vector<float> k(kv_heads * hd), v(kv_heads * hd);
  std::mt19937 rng(2);
  std::normal_distribution<float> d;
  for (int64_t b = 0; b < nblocks; ++b) {
    blocks[b] = storage.data() + b * block_bytes;
    for (int s = 0; s < B; ++s) {
      for (auto& x : k) x = d(rng);
      for (auto& x : v) x = d(rng);
      (void)WriteKvRow(layout, storage.data() + b * block_bytes, s, k.data(), v.data());
    }
  }
  std::vector<float> q(heads * hd, 0.1f), o(heads * hd);
  int64_t pos = ctx - 1;
  PagedKv kv{blocks.data(), nblocks, layout};
  AttentionParams p{heads, 0.0f, isa, PoolFor(threads), llama_mode};
  for (auto _ : state) {
    (void)PagedAttention(p, kv, q.data(), 0, &pos, 1, o.data(), 0);
    benchmark::DoNotOptimize(o.data());
  }
  state.counters["kv_GBs"] = benchmark::Counter(static_cast<double>(storage.size()) * state.iterations() / 1e9,
                                                benchmark::Counter::kIsRate);
}

// A 64-token prefill of one matrix through the kernel table directly, 1 thread: the 4-token
// `multi` kernel row by row (the path before a type had tiles) against the R x T `tile` — an A/B
// of the two paths of one binary on the same bytes.
void BM_PrefillPath(benchmark::State& state, TensorType type, bool use_tile) {
  const int64_t in = 576, out = 1536, tokens = 64;
  const VecDotKernel kernel = GetVecDotKernel(type, Isa::kAvx512);
  if (!IsaSupported(Isa::kAvx512) || kernel.multi == nullptr || kernel.tile == nullptr) {
    state.SkipWithError("no AVX-512 multi and tile kernels for this type here");
    return;
  }
  auto w = RandomWeights(type, out, in);
  std::vector<float> x(tokens * in), y(tokens * out);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 113) / 113.0f - 0.5f;
  Activations act;
  (void)act.Prepare(VecDotType(type), x.data(), tokens, in, in);
  const int64_t rb = RowBytes(type, in);
  for (auto _ : state) {
    const void* xs[kTileMax];
    if (use_tile) {
      for (int64_t t0 = 0; t0 < tokens; t0 += kernel.tile_tokens) {
        for (int k = 0; k < kernel.tile_tokens; ++k) xs[k] = act.row(t0 + k);
        for (int64_t r0 = 0; r0 < out; r0 += kernel.tile_rows)
          kernel.tile(in, w.data() + r0 * rb, rb, kernel.tile_rows, xs, kernel.tile_tokens, y.data() + t0 * out + r0, out);
      }
    } else {
      float res[8];
      for (int64_t t0 = 0; t0 < tokens; t0 += kernel.multi_tokens) {
        for (int k = 0; k < kernel.multi_tokens; ++k) xs[k] = act.row(t0 + k);
        for (int64_t o = 0; o < out; ++o) {
          kernel.multi(in, w.data() + o * rb, xs, res);
          for (int k = 0; k < kernel.multi_tokens; ++k) y[(t0 + k) * out + o] = res[k];
        }
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
}

// A prefill chunk's attention: 64 queries at the end of a 2048-token context, SmolLM2-135M's
// layer shape (9 heads, 3 KV heads, head dim 64, f16 KV): multi-head tasks, K converted per block.
void BM_AttentionPrefill(benchmark::State& state, Isa isa, int64_t hd) {
  const int heads = 9, kv_heads = 3, B = 32;
  const int64_t ctx = 2048, nblocks = ctx / B, nq = 64;
  const KvLayout kv_layout = KvLayout::Create(KvShape{1, kv_heads, hd, hd, B, TensorType::kF16, TensorType::kF16}).value();
  const KvLayerLayout layout = kv_layout.LayerView(0);
  const int64_t block_bytes = static_cast<int64_t>(kv_layout.block_bytes());
  std::vector<uint8_t> storage(nblocks * block_bytes);
  std::vector<const uint8_t*> blocks(nblocks);
  std::vector<float> k(kv_heads * hd), v(kv_heads * hd);
  std::mt19937 rng(3);
  std::normal_distribution<float> d;
  for (int64_t b = 0; b < nblocks; ++b) {
    blocks[b] = storage.data() + b * block_bytes;
    for (int s = 0; s < B; ++s) {
      for (auto& x : k) x = d(rng);
      for (auto& x : v) x = d(rng);
      (void)WriteKvRow(layout, storage.data() + b * block_bytes, s, k.data(), v.data());
    }
  }
  std::vector<float> q(nq * heads * hd), o(nq * heads * hd);
  for (auto& x : q) x = d(rng);
  std::vector<int64_t> pos(nq);
  for (int64_t i = 0; i < nq; ++i) pos[i] = ctx - nq + i;
  PagedKv kv{blocks.data(), nblocks, layout};
  AttentionParams p{heads, 0.0f, isa, nullptr, true};
  for (auto _ : state) {
    (void)PagedAttention(p, kv, q.data(), heads * hd, pos.data(), nq, o.data(), heads * hd);
    benchmark::DoNotOptimize(o.data());
  }
}

// The llama-order scores of one task and block as prefill runs them: 24 query heads (8 queries x
// a group of 3) against 32 keys converted to f32 — the AVX2 kernel against the AVX-512 one.
void BM_AttentionScores(benchmark::State& state, Isa isa, int64_t hd) {
  const int nq = 24, n = 32;
  std::vector<float> k(n * hd), q(nq * hd), scores(nq * n);
  std::mt19937 rng(4);
  std::normal_distribution<float> d;
  for (auto& x : k) x = F16ToF32(F32ToF16(d(rng)));
  for (auto& x : q) x = F16ToF32(F32ToF16(d(rng)));
  const auto fn = isa == Isa::kAvx512 ? static_cast<internal::ScoresF16Fn>(internal::ScoresF16GgmlAvx512)
                                      : static_cast<internal::ScoresF16Fn>(internal::ScoresF16GgmlAvx2);
  for (auto _ : state) {
    fn(k.data(), hd, n, q.data(), nq, hd, 0.125f, scores.data(), n);
    benchmark::DoNotOptimize(scores.data());
  }
}

void Register() {
  const TensorType types[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                              TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_K,
                              TensorType::kQ5_K, TensorType::kQ6_K};
  struct Shape { const char* name; int64_t in, out; };
  const Shape dense[] = {{"576x1536", 576, 1536}, {"896x4864", 896, 4864}};
  const Shape kquant[] = {{"1536x576", 1536, 576}, {"4864x896", 4864, 896}};
  for (int threads : {1, 2}) {
    for (int64_t tokens : {1, 3, 64}) {
      for (int si = 0; si < 2; ++si) {
        for (TensorType t : types) {
          const Shape& sh = BlockElements(t) == 256 ? kquant[si] : dense[si];
          for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
            // Scalar prefill at 64 tokens is slow and adds nothing beyond the decode baseline.
            if (isa == Isa::kScalar && (tokens > 1 || threads > 1)) continue;
            if (!IsaSupported(isa)) continue;
            const std::string name = std::string("matmul/") + (tokens == 1 ? "decode/" : tokens == 3 ? "batch3/" : "prefill64/") +
                                     sh.name + "/" + TensorTypeName(uint32_t(t)) + "/" +
                                     std::string(IsaName(isa)) + "/threads:" + std::to_string(threads);
            benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, t, isa, sh.in, sh.out, tokens, threads)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
          }
        }
      }
    }
  }
  for (int threads : {1, 2}) {
    for (int tokens : {1, 3})
      for (TensorType t : {TensorType::kQ8_0, TensorType::kQ4_0}) {
        const std::string name = std::string("decode_stream/smollm2-135m/") + TensorTypeName(uint32_t(t)) +
                                 "/tokens:" + std::to_string(tokens) + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(name.c_str(), BM_DecodeStream, t, tokens, threads)->Unit(benchmark::kMillisecond)->UseRealTime();
      }
  }
  for (TensorType t : {TensorType::kIQ4_NL, TensorType::kMXFP4})
    for (bool tile : {false, true}) {
      const std::string name = std::string("prefill_path/prefill64/576x1536/") + TensorTypeName(uint32_t(t)) +
                               (tile ? "/avx512_tile" : "/avx512_multi");
      benchmark::RegisterBenchmark(name.c_str(), BM_PrefillPath, t, tile)->Unit(benchmark::kMicrosecond);
    }
  for (int64_t hd : {64, 128})
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      if (!IsaSupported(isa)) continue;
      const std::string name = "attention/scores_24heads_32keys/hd" + std::to_string(hd) + "/" + std::string(IsaName(isa));
      benchmark::RegisterBenchmark(name.c_str(), BM_AttentionScores, isa, hd)->Unit(benchmark::kNanosecond);
    }
  for (int64_t hd : {64, 80, 128})
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      if (!IsaSupported(isa)) continue;
      const std::string name = "attention/prefill64_ctx2048_f16/hd" + std::to_string(hd) + "/llama_f16acc/" +
                               std::string(IsaName(isa)) + "/threads:1";
      benchmark::RegisterBenchmark(name.c_str(), BM_AttentionPrefill, isa, hd)->Unit(benchmark::kMillisecond);
    }
  for (bool llama_mode : {true, false}) for (int threads : {1, 2}) {
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      if (!IsaSupported(isa)) continue;
      const std::string name = std::string("attention/decode_ctx4096_f16/") +
                               (llama_mode ? "llama_f16acc/" : "f32acc/") + std::string(IsaName(isa)) +
                               "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), BM_AttentionDecode, isa, threads, llama_mode)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
}

}  // namespace
}  // namespace swarmkv

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  swarmkv::Register();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
