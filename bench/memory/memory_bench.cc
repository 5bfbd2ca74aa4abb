// Benchmarks of the memory core (Google Benchmark; --benchmark_format=json for machine output).
//
//   BM_MatchPrefix32k        attach a 32,768-token prompt's cached prefix (1,024 blocks of the
//                            SmolLM2-135M KV shape: 30 layers, 3 kv heads, dim 64, f16) to a new
//                            sequence and release it — the scheduler's admission cost.
//   BM_HashChain32k          baseline in the same run: only hashing the prompt's 1,024 block
//                            identities (the floor of any hash-chain match).
//   BM_CopyPrefix32k         baseline in the same run: copying that prefix's KV (720 MiB), what a
//                            cache that copies per slot pays instead of sharing.
//   BM_AppendSealRelease/N   engine bookkeeping per token: Reserve + Commit (sealing every 32
//                            tokens) in steps of N tokens for 1,024 tokens, then Release.
//   BM_ReserveEvicting       Reserve of one block when the budget is full of cached blocks (each
//                            call evicts one through the hook).
#include <benchmark/benchmark.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "base/logging.h"
#include "memory/kv_memory.h"

namespace swarmkv {
namespace {

const Hash128 kNs{0x5EED, 0x135};

NamespaceOptions SmolLm2() {
  NamespaceOptions n;
  n.id = kNs;
  n.name = "smollm2-135m:f16";
  n.shape.num_layers = 30;
  n.shape.num_kv_heads = 3;
  n.shape.head_dim_k = n.shape.head_dim_v = 64;
  n.shape.block_tokens = 32;
  return n;
}

std::unique_ptr<KvMemory> MakeMemory(uint64_t budget) {
  KvMemoryOptions o;
  o.budget_bytes = budget;
  auto m = KvMemory::Create(std::move(o));
  SKV_CHECK(m.ok()) << m.status().ToString();
  SKV_CHECK((*m)->RegisterNamespace(SmolLm2()).ok());
  return std::move(*m);
}

std::vector<int32_t> Prompt(int n) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), 1);
  return t;
}

// Computes `tokens` into the cache (no KV writes: the bytes do not matter to matching).
void Warm(KvMemory& mem, const std::vector<int32_t>& tokens) {
  SequenceId s = *mem.CreateSequence(kNs);
  SKV_CHECK(mem.Reserve(s, static_cast<int64_t>(tokens.size())).ok());
  SKV_CHECK(mem.Commit(s, tokens).ok());
  SKV_CHECK(mem.Release(s).ok());
}

void BM_MatchPrefix32k(benchmark::State& state) {
  auto mem = MakeMemory(1100ull << 20);
  const auto prompt = Prompt(32768);
  Warm(*mem, prompt);
  for (auto _ : state) {
    SequenceId s = *mem->CreateSequence(kNs);
    auto m = mem->AttachPrefix(s, prompt);
    benchmark::DoNotOptimize(m->matched_tokens);
    SKV_CHECK(m->matched_tokens == 32768);
    SKV_CHECK(mem->Release(s).ok());
  }
  state.counters["tokens_per_s"] = benchmark::Counter(32768.0 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MatchPrefix32k)->Unit(benchmark::kMicrosecond);

void BM_HashChain32k(benchmark::State& state) {
  const auto prompt = Prompt(32768);
  for (auto _ : state) benchmark::DoNotOptimize(ComputeBlockChain(kNs, prompt, 32));
}
BENCHMARK(BM_HashChain32k)->Unit(benchmark::kMicrosecond);

void BM_CopyPrefix32k(benchmark::State& state) {
  const auto layout = *KvLayout::Create(SmolLm2().shape);
  const size_t bytes = layout.block_bytes() * 1024;
  std::vector<uint8_t> src(bytes, 1), dst(bytes, 2);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}
BENCHMARK(BM_CopyPrefix32k)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_AppendSealRelease(benchmark::State& state) {
  auto mem = MakeMemory(256ull << 20);
  const int step = static_cast<int>(state.range(0));
  int32_t next = 0;
  for (auto _ : state) {
    SequenceId s = *mem->CreateSequence(kNs);
    std::vector<int32_t> chunk(static_cast<size_t>(step));
    for (int done = 0; done < 1024; done += step) {
      for (int32_t& t : chunk) t = next++;  // fresh tokens: every block is new
      SKV_CHECK(mem->Reserve(s, step).ok());
      SKV_CHECK(mem->Commit(s, chunk).ok());
    }
    SKV_CHECK(mem->Release(s).ok());
    if (mem->Stats().used_bytes > (128ull << 20)) mem->EvictCached(UINT64_MAX);
  }
  state.counters["tokens_per_s"] = benchmark::Counter(1024.0 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AppendSealRelease)->Arg(1)->Arg(32)->Arg(512)->Unit(benchmark::kMicrosecond);

void BM_ReserveEvicting(benchmark::State& state) {
  auto mem = MakeMemory(64ull << 20);  // 91 blocks of 720 KiB
  uint64_t hooked = 0;
  mem->SetEvictionHook([&](const SealedBlockView& e) { hooked += e.kv_bytes.size(); });
  int32_t next = 0;
  std::vector<int32_t> block(32);
  auto fill = [&] {
    for (int i = 0; i < 100; ++i) {
      for (int32_t& t : block) t = next++;
      Warm(*mem, block);
    }
  };
  fill();
  for (auto _ : state) {
    SequenceId s = *mem->CreateSequence(kNs);
    SKV_CHECK(mem->Reserve(s, 32).ok());
    for (int32_t& t : block) t = next++;
    SKV_CHECK(mem->Commit(s, block).ok());
    SKV_CHECK(mem->Release(s).ok());  // stays cached: the budget stays full
  }
  state.counters["evictions"] = static_cast<double>(mem->Stats().evictions[0]);
  benchmark::DoNotOptimize(hooked);
}
BENCHMARK(BM_ReserveEvicting)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace swarmkv

BENCHMARK_MAIN();
