// beyond_ram_bench: decode speed with a context larger than --kv-memory (context beyond RAM)
// against the same context all in RAM, in one process, interleaved round by round.
//
//   beyond_ram_bench [--model PATH] [--context 65536] [--fraction 0.25] [--decode 4] [--rounds 3]
//                    [--threads 2] [--drop-cache] [--cold-dir DIR]
//
// The context's KV is written straight into memory (bytes of a real K/V row pattern, the model's
// layout) instead of being prefilled: decode cost depends on how many KV rows attention reads,
// not on their values, and a 64k-token prefill would take hours on two shared cores. The "cold"
// engine's budget is `fraction` of the context's KV; its hot window is what that budget holds
// minus one step's room, so the rest of the context lives only in the cold file on disk and is
// streamed to every decode step. --drop-cache asks the kernel to drop the cold file's cached pages
// before each step (reads then come from the device, as on a machine without spare RAM).
// Output: one JSON line per (round, engine), then a summary line with the ratio.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/sysinfo.h"
#include "base/thread_pool.h"
#include "engine/model_runner.h"
#include "memory/kv_memory.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv {
namespace {

struct Args {
  std::string model = "/work/wt/h13-models/smollm2-135m-f16.gguf";
  int64_t context = 65536;
  double fraction = 0.25;
  int decode = 4;
  int rounds = 3;
  int threads = 2;
  bool drop_cache = false;
  std::string cold_dir = "/tmp/swarmkv-beyond-ram-bench";
};

struct Engine {
  std::string name;
  std::unique_ptr<KvMemory> memory;
  std::unique_ptr<LlamaRunner> runner;
  SlotId slot = 0;
  int64_t length = 0;
  std::vector<double> step_seconds;
};

[[noreturn]] void Die(const std::string& what, const Status& st) {
  std::fprintf(stderr, "beyond_ram_bench: %s: %s\n", what.c_str(), st.ToString().c_str());
  std::exit(1);
}

std::unique_ptr<Engine> Build(const std::string& name, std::shared_ptr<const Model> model,
                              std::shared_ptr<const Tokenizer> tok, uint64_t budget, int64_t hot_window,
                              ThreadPool* pool, const Args& a) {
  auto e = std::make_unique<Engine>();
  e->name = name;
  KvMemoryOptions mo;
  mo.budget_bytes = budget;
  auto mem = KvMemory::Create(mo);
  if (!mem.ok()) Die("memory", mem.status());
  e->memory = std::move(*mem);
  LlamaRunnerOptions ro;
  ro.pool = pool;
  ro.kv_hot_window_tokens = hot_window;
  ro.cold_dir = a.cold_dir;
  auto r = LlamaRunner::Create(std::move(model), std::move(tok), e->memory.get(), ro);
  if (!r.ok()) Die("runner", r.status());
  e->runner = std::move(*r);
  return e;
}

// Writes `n` tokens of KV (a fixed block pattern) and commits random token ids; the cold engine
// moves blocks beyond its window to disk after every chunk, as a prefill would.
void Fill(Engine* e, int64_t n, int32_t vocab) {
  const std::vector<int32_t> first{1};
  auto opened = e->runner->Open(first);
  if (!opened.ok()) Die("open", opened.status());
  e->slot = opened->slot;
  const auto seq = static_cast<SequenceId>(e->slot);
  const KvLayout layout = e->memory->Layout(e->runner->namespace_id()).value();
  const int64_t B = layout.block_tokens();
  std::vector<uint8_t> pattern(layout.block_bytes());
  std::mt19937 rng(3);
  // f16 values in [-1, 1): exponent bits kept small so attention sees ordinary numbers.
  for (size_t i = 0; i + 1 < pattern.size(); i += 2) {
    const uint16_t h = static_cast<uint16_t>((rng() & 0x83FF) | 0x3800);
    std::memcpy(&pattern[i], &h, 2);
  }
  constexpr int64_t kChunk = 512;
  std::vector<int32_t> toks;
  for (int64_t pos = 0; pos < n; pos += kChunk) {
    const int64_t c = std::min(kChunk, n - pos);
    if (Status st = e->memory->Reserve(seq, c); !st.ok()) Die("reserve during fill", st);
    for (int64_t p = pos; p < pos + c; p += B) {
      auto block = e->memory->MutableBlock(seq, p);
      if (!block.ok()) Die("block", block.status());
      std::memcpy(*block, pattern.data(), pattern.size());
    }
    toks.resize(static_cast<size_t>(c));
    for (auto& t : toks) t = static_cast<int32_t>(3 + rng() % static_cast<uint32_t>(vocab - 3));
    if (Status st = e->memory->Commit(seq, toks); !st.ok()) Die("commit", st);
    if (ColdKv* cold = e->runner->cold_kv(); cold != nullptr) {
      StepBatch b;
      b.Add(e->slot, pos, toks, false);
      cold->SpillBeyondWindow(b);
    }
  }
  e->length = n;
}

void Decode(Engine* e, int steps, int32_t vocab, bool drop_cache) {
  StepBatch batch;
  StepOutput out;
  for (int i = 0; i < steps; ++i) {
    batch.Clear();
    const int32_t tok = static_cast<int32_t>(3 + (e->length * 7919) % (vocab - 3));
    batch.Add(e->slot, e->length, std::span<const int32_t>(&tok, 1), true);
    if (Status st = e->runner->Reserve(e->slot, 1); !st.ok()) Die(e->name + " reserve", st);
    if (drop_cache && e->runner->cold_kv() != nullptr) e->runner->cold_kv()->DropPageCache();
    const int64_t t0 = MonotonicNanos();
    if (Status st = e->runner->Forward(batch, &out); !st.ok()) Die(e->name + " decode", st);
    e->step_seconds.push_back(static_cast<double>(MonotonicNanos() - t0) * 1e-9);
    ++e->length;
  }
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

int Main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "beyond_ram_bench: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--model") a.model = next();
    else if (k == "--context") a.context = std::atoll(next().c_str());
    else if (k == "--fraction") a.fraction = std::atof(next().c_str());
    else if (k == "--decode") a.decode = std::atoi(next().c_str());
    else if (k == "--rounds") a.rounds = std::atoi(next().c_str());
    else if (k == "--threads") a.threads = std::atoi(next().c_str());
    else if (k == "--drop-cache") a.drop_cache = true;
    else if (k == "--cold-dir") a.cold_dir = next();
    else {
      std::fprintf(stderr, "beyond_ram_bench: unknown argument %s\n", k.c_str());
      return 2;
    }
  }
  auto model = Model::Load(a.model);
  if (!model.ok()) Die("model " + a.model, model.status());
  std::shared_ptr<const Model> m = std::move(*model);
  auto tok = Tokenizer::Load(a.model);
  if (!tok.ok()) Die("tokenizer", tok.status());
  std::shared_ptr<const Tokenizer> t = std::move(*tok);
  ThreadPool pool(a.threads);

  auto ram = Build("ram", m, t, 64ull << 30, 0, &pool, a);
  const uint64_t block = ram->runner->kv_capacity().block_bytes;
  const int64_t B = ram->runner->kv_capacity().block_tokens;
  const int64_t context_blocks = (a.context + a.decode * a.rounds + B - 1) / B + 1;
  const uint64_t kv_bytes = static_cast<uint64_t>(context_blocks) * block;
  const uint64_t budget = static_cast<uint64_t>(static_cast<double>(kv_bytes) * a.fraction) / block * block;
  const int64_t budget_blocks = static_cast<int64_t>(budget / block);
  // The window leaves room for one fill chunk (512 tokens) and the copy-on-write block.
  const int64_t window = (budget_blocks - 512 / B - 2) * B;
  if (window <= 0) {
    std::fprintf(stderr, "beyond_ram_bench: a %.2f budget of %lld blocks has no room for a hot window\n", a.fraction,
                 static_cast<long long>(budget_blocks));
    return 2;
  }
  auto cold = Build("cold", m, t, budget, window, &pool, a);
  const int32_t vocab = ram->runner->vocab_size();
  const int64_t f0 = MonotonicNanos();
  Fill(ram.get(), a.context, vocab);
  const int64_t f1 = MonotonicNanos();
  Fill(cold.get(), a.context, vocab);
  const int64_t f2 = MonotonicNanos();
  std::printf("{\"bench\":\"beyond_ram\",\"phase\":\"fill\",\"context\":%lld,\"kv_bytes\":%llu,\"cold_budget_bytes\":%llu,"
              "\"hot_window_tokens\":%lld,\"fill_ram_s\":%.2f,\"fill_cold_s\":%.2f,\"cold_blocks\":%lld}\n",
              static_cast<long long>(a.context), static_cast<unsigned long long>(kv_bytes),
              static_cast<unsigned long long>(budget), static_cast<long long>(window), (f1 - f0) * 1e-9,
              (f2 - f1) * 1e-9, static_cast<long long>(cold->runner->cold_kv()->stats().blocks_cold));
  std::fflush(stdout);
  // One warm-up step each (the cold engine's first step also moves the fill's last blocks out).
  Decode(ram.get(), 1, vocab, false);
  Decode(cold.get(), 1, vocab, a.drop_cache);
  ram->step_seconds.clear();
  cold->step_seconds.clear();
  for (int r = 0; r < a.rounds; ++r) {
    for (Engine* e : {ram.get(), cold.get()}) {
      const size_t before = e->step_seconds.size();
      Decode(e, a.decode, vocab, a.drop_cache);
      std::vector<double> mine(e->step_seconds.begin() + static_cast<long>(before), e->step_seconds.end());
      double sum = 0;
      for (double s : mine) sum += s;
      std::printf("{\"bench\":\"beyond_ram\",\"round\":%d,\"engine\":\"%s\",\"context\":%lld,\"steps\":%d,"
                  "\"decode_tok_s\":%.3f,\"used_bytes\":%llu}\n",
                  r, e->name.c_str(), static_cast<long long>(e->length), a.decode, mine.size() / sum,
                  static_cast<unsigned long long>(e->memory->Stats().used_bytes));
      std::fflush(stdout);
    }
  }
  const ColdKvStats cs = cold->runner->cold_kv()->stats();
  const double ram_tps = 1.0 / Median(ram->step_seconds), cold_tps = 1.0 / Median(cold->step_seconds);
  std::printf("{\"bench\":\"beyond_ram\",\"summary\":true,\"context\":%lld,\"fraction\":%.2f,\"drop_cache\":%s,"
              "\"threads\":%d,\"ram_decode_tok_s\":%.3f,\"cold_decode_tok_s\":%.3f,\"ratio\":%.3f,"
              "\"ram_used_bytes\":%llu,\"cold_used_bytes\":%llu,\"cold_stream_buffer_bytes\":%llu,"
              "\"cold_slices_read\":%lld,\"cold_bytes_read\":%lld,\"cold_waits\":%lld}\n",
              static_cast<long long>(a.context), a.fraction, a.drop_cache ? "true" : "false", a.threads, ram_tps,
              cold_tps, cold_tps / ram_tps, static_cast<unsigned long long>(ram->memory->Stats().used_bytes),
              static_cast<unsigned long long>(cold->memory->Stats().used_bytes),
              static_cast<unsigned long long>(cs.stream_buffer_bytes), static_cast<long long>(cs.stream.slices_read),
              static_cast<long long>(cs.stream.bytes_read), static_cast<long long>(cs.stream.waits));
  ram->runner->Close(ram->slot);
  cold->runner->Close(cold->slot);
  return 0;
}

}  // namespace
}  // namespace swarmkv

int main(int argc, char** argv) { return swarmkv::Main(argc, argv); }
