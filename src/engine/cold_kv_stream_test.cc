// ColdKvStream + ColdKvFile at the kernel level: PagedAttention over blocks streamed from a real
// file (double-buffered reads, some blocks resident, some cold) is bit-identical to PagedAttention
// over the same blocks in RAM — every ISA this CPU has, f16 (both numerics modes) and q8_0 KV,
// decode and prefill queries, threads or not. Faulty reads are errors, never numbers.
#include "engine/cold_kv_stream.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "base/env.h"
#include "base/testing.h"
#include "base/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/cpu_features.h"
#include "memory/kv_layout.h"

namespace swarmkv {
namespace {

constexpr int kLayers = 3, kKvHeads = 2, kHeads = 6, kDim = 64, kB = 32;

// Memory's layout (the one the cold file slices: a layer's K rows first, layer-major).
KvLayout MemoryLayout(TensorType t, int layers, int kv_heads, int dim, int block_tokens) {
  auto layout = KvLayout::Create(KvShape{layers, kv_heads, dim, dim, block_tokens, t, t});
  EXPECT_TRUE(layout.ok()) << layout.status().ToString();
  return *layout;
}

struct Fixture {
  TensorType type;
  int64_t num_blocks;
  std::vector<KvLayerLayout> layouts;
  int64_t slice_bytes = 0, block_bytes = 0;
  std::vector<std::vector<uint8_t>> blocks;  // whole blocks in RAM
  std::vector<const uint8_t*> ram;           // all resident
  std::vector<const uint8_t*> table;         // nullptr = cold
  std::unique_ptr<ColdKvFile> file;

  Fixture(TensorType t, int64_t n, ColdKvFaults* faults, const std::string& dir) : type(t), num_blocks(n) {
    const KvLayout layout = MemoryLayout(t, kLayers, kKvHeads, kDim, kB);
    for (int l = 0; l < kLayers; ++l) layouts.push_back(layout.LayerView(l));
    slice_bytes = static_cast<int64_t>(layout.layer_bytes());
    block_bytes = slice_bytes * kLayers;
    std::mt19937 rng(42);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> k(kKvHeads * kDim), v(kKvHeads * kDim);
    for (int64_t b = 0; b < n; ++b) {
      blocks.emplace_back(static_cast<size_t>(block_bytes));
      for (int l = 0; l < kLayers; ++l) {
        for (int s = 0; s < kB; ++s) {
          for (auto& x : k) x = nd(rng);
          for (auto& x : v) x = nd(rng);
          EXPECT_TRUE(WriteKvRow(layouts[l], blocks.back().data(), s, k.data(), v.data()).ok());
        }
      }
    }
    ColdKvFileOptions fo;
    fo.dir = dir;
    fo.num_layers = kLayers;
    fo.slice_bytes = slice_bytes;
    fo.max_blocks = n;
    fo.faults = faults;
    file = ColdKvFile::Create(fo).value();
    for (int64_t b = 0; b < n; ++b) {
      ram.push_back(blocks[b].data());
      // Cold: everything older than the last 3 blocks, except block 1 (a shared block stays hot).
      const bool cold = b < n - 3 && b != 1;
      if (cold) {
        EXPECT_TRUE(file->WriteBlock(b, blocks[b]).ok());
      }
      table.push_back(cold ? nullptr : blocks[b].data());
    }
  }
};

std::vector<float> Queries(int64_t n) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> q(static_cast<size_t>(n * kHeads * kDim));
  for (auto& x : q) x = nd(rng);
  return q;
}

void ExpectStreamedEqualsRam(TensorType type, Isa isa, bool llama_numerics, ThreadPool* pool, int64_t n_queries) {
  const std::string dir = testing::TempDir("cold-kv-stream");
  constexpr int64_t kBlocks = 24;  // 768 tokens: 20 cold blocks, more than one read run (kRunBlocks)
  Fixture f(type, kBlocks, nullptr, dir);
  ColdKvStream stream(kLayers, f.slice_bytes);
  const std::vector<float> q = Queries(n_queries);
  std::vector<int64_t> pos(static_cast<size_t>(n_queries));
  for (int64_t i = 0; i < n_queries; ++i) pos[i] = kBlocks * kB - n_queries + i;
  AttentionParams ap;
  ap.n_heads = kHeads;
  ap.isa = isa;
  ap.pool = pool;
  ap.llama_cpp_f16_v = llama_numerics;
  const int64_t od = kHeads * kDim;
  for (int step = 0; step < 2; ++step) {  // two steps: buffers and chunk ids are reused
    stream.BeginStep({ColdSpan{0, f.file.get(), f.table}});
    for (int l = 0; l < kLayers; ++l) {
      std::vector<float> a(static_cast<size_t>(n_queries * od)), b(a.size());
      PagedKv in_ram{f.ram.data(), kBlocks, f.layouts[l]};
      ASSERT_TRUE(PagedAttention(ap, in_ram, q.data(), od, pos.data(), n_queries, a.data(), od).ok());
      PagedKv streamed{f.table.data(), kBlocks, f.layouts[l]};
      ASSERT_TRUE(stream.Prepare(0, l, &streamed).ok());
      ASSERT_NE(streamed.source, nullptr);
      ASSERT_TRUE(PagedAttention(ap, streamed, q.data(), od, pos.data(), n_queries, b.data(), od).ok());
      ASSERT_TRUE(stream.Finish(0, l).ok());
      ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
          << TensorTypeName(uint32_t(type)) << " " << IsaName(isa) << " layer " << l << " llama " << llama_numerics;
    }
    stream.EndStep();
  }
  const ColdKvStreamStats st = stream.stats();
  EXPECT_EQ(st.chunks, 2 * kLayers);
  EXPECT_EQ(st.slices_read, 2 * kLayers * (kBlocks - 4));
  EXPECT_EQ(st.read_errors, 0);
}

TEST(ColdKvStreamTest, StreamedAttentionIsBitIdenticalToRamAtEveryIsa) {
  ThreadPool pool(3);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) {
      std::printf("ISA %s not supported here: not tested\n", std::string(IsaName(isa)).c_str());
      continue;
    }
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      for (int64_t nq : {int64_t{1}, int64_t{5}}) {
        ExpectStreamedEqualsRam(TensorType::kF16, isa, true, p, nq);
        ExpectStreamedEqualsRam(TensorType::kF16, isa, false, p, nq);
        ExpectStreamedEqualsRam(TensorType::kQ8_0, isa, true, p, nq);
      }
    }
  }
}

void ExpectFaultIsAnError(bool flip) {
  const std::string dir = testing::TempDir("cold-kv-fault");
  ColdKvFaults faults;
  Fixture f(TensorType::kF16, 12, &faults, dir);
  (flip ? faults.flip_reads : faults.fail_reads).store(true);
  ColdKvStream stream(kLayers, f.slice_bytes);
  ThreadPool pool(2);
  AttentionParams ap;
  ap.n_heads = kHeads;
  ap.pool = &pool;
  const std::vector<float> q = Queries(1);
  const int64_t p = 12 * kB - 1;
  std::vector<float> out(kHeads * kDim);
  stream.BeginStep({ColdSpan{0, f.file.get(), f.table}});
  PagedKv kv{f.table.data(), 12, f.layouts[0]};
  ASSERT_TRUE(stream.Prepare(0, 0, &kv).ok());
  ASSERT_TRUE(PagedAttention(ap, kv, q.data(), kHeads * kDim, &p, 1, out.data(), kHeads * kDim).ok());
  const Status st = stream.Finish(0, 0);
  EXPECT_EQ(st.code(), flip ? StatusCode::kCorruption : StatusCode::kIOError) << st.ToString();
  EXPECT_NE(st.message().find(flip ? "checksum" : "Input/output error"), std::string::npos) << st.ToString();
  stream.EndStep();  // abandons the other layers' reads
  // The fault gone, the next step reads the same blocks correctly.
  faults.flip_reads = faults.fail_reads = false;
  stream.BeginStep({ColdSpan{0, f.file.get(), f.table}});
  for (int l = 0; l < kLayers; ++l) {
    PagedKv kv2{f.table.data(), 12, f.layouts[l]};
    ASSERT_TRUE(stream.Prepare(0, l, &kv2).ok());
    ASSERT_TRUE(PagedAttention(ap, kv2, q.data(), kHeads * kDim, &p, 1, out.data(), kHeads * kDim).ok());
    EXPECT_TRUE(stream.Finish(0, l).ok());
  }
  stream.EndStep();
}

TEST(ColdKvStreamTest, ACorruptReadIsAnErrorNotNumbers) { ExpectFaultIsAnError(true); }
TEST(ColdKvStreamTest, AFailingReadIsAnErrorAndTheNextStepReadsAgain) { ExpectFaultIsAnError(false); }

TEST(ColdKvStreamTest, SpansWithoutColdBlocksAreLeftAlone) {
  ColdKvStream stream(kLayers, 1024);
  std::vector<const uint8_t*> table(4, reinterpret_cast<const uint8_t*>(&table));
  stream.BeginStep({ColdSpan{0, nullptr, table}});
  PagedKv kv{table.data(), 4, MemoryLayout(TensorType::kF16, 2, 1, 64, 32).LayerView(1)};
  const int64_t k_offset = kv.layout.k_offset;
  ASSERT_TRUE(stream.Prepare(0, 0, &kv).ok());
  EXPECT_EQ(kv.source, nullptr);
  EXPECT_EQ(kv.layout.k_offset, k_offset);
  EXPECT_TRUE(stream.Finish(0, 0).ok());
  stream.EndStep();
}

TEST(ColdKvFileTest, WritesBeyondCapacityOrOnAFullDiskAreRefused) {
  ColdKvFaults faults;
  ColdKvFileOptions fo;
  fo.dir = testing::TempDir("cold-kv-file");
  fo.num_layers = 2;
  fo.slice_bytes = 64;
  fo.max_blocks = 2;
  fo.faults = &faults;
  auto file = ColdKvFile::Create(fo).value();
  std::vector<uint8_t> block(128, 7), back(64);
  EXPECT_EQ(file->WriteBlock(2, block).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(file->ReadSlices(0, 0, 1, back.data()).code(), StatusCode::kFailedPrecondition);
  faults.fail_writes = true;
  const Status st = file->WriteBlock(0, block);
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_NE(st.message().find("No space left"), std::string::npos);
  EXPECT_EQ(file->ReadSlices(0, 0, 1, back.data()).code(), StatusCode::kFailedPrecondition);
  faults.fail_writes = false;
  ASSERT_TRUE(file->WriteBlock(1, block).ok());
  ASSERT_TRUE(file->ReadSlices(1, 1, 1, back.data()).ok());
  EXPECT_EQ(back, std::vector<uint8_t>(64, 7));
  const std::string path = file->path();
  file.reset();
  EXPECT_FALSE(Env::Default()->FileExists(path)) << "the cold file outlives its sequence";
}

// A restart (or any later process) removes the cold files of processes that are gone, and only those.
TEST(ColdKvFileTest, StaleFilesOfDeadProcessesAreRemoved) {
  const std::string dir = testing::TempDir("cold-stale");
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // reaped: its pid names no process now
  const std::string dead = dir + "/cold-" + std::to_string(child) + "-0.kv";
  const std::string mine = dir + "/cold-" + std::to_string(::getpid()) + "-0.kv";
  const std::string other = dir + "/notes.kv";
  for (const std::string& p : {dead, mine, other}) std::ofstream(p) << "x";
  EXPECT_EQ(RemoveStaleColdFiles(dir), 1);
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(mine));
  EXPECT_TRUE(std::filesystem::exists(other));
  EXPECT_EQ(RemoveStaleColdFiles(dir + "/missing"), 0);
}

}  // namespace
}  // namespace swarmkv
