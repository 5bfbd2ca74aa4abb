// Recurrent checkpoints every k-th block (NamespaceOptions::checkpoint_interval_blocks, chosen by
// engine/checkpoint_interval.h) on tiny-lfm2 (short conv) and tiny-granitehybrid (Mamba-2), with
// the real KvMemory and disk tier:
// - every split point of a 100-token prompt continues from the last checkpointed block at or
//   before the split (whole blocks after it are recomputed) and gives logits memcmp-equal to
//   computing the prompt from scratch — from RAM, and from the disk tier after a restart;
// - truncation rolls back the same way (KvMemory::TruncateToCheckpoint) and continues exactly;
// - blocks without a checkpoint take only their KV from the budget and store no state in the
//   tier: the bytes a restore reads for the same prefix fall with k.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "base/testing.h"
#include "engine_fixture.h"
#include "exactness_checks.h"
#include "memory/block_pool.h"
#include "recurrent_checks.h"
#include "tiers/disk_backend.h"

namespace swarmkv::testing {
namespace {

constexpr int64_t kBlock = 32;  // EngineFixture's KvCacheConfig default

struct HybridModel {
  const char* shape;
  TensorType type;
};
const HybridModel kModels[] = {{"tiny-lfm2", TensorType::kF16}, {"tiny-granitehybrid", TensorType::kQ8_0}};

class RecurrentIntervalTest : public ::testing::TestWithParam<std::tuple<HybridModel, int32_t>> {
 protected:
  std::string Path() const { return SyntheticModelOnce(std::get<0>(GetParam()).shape, std::get<0>(GetParam()).type); }
  int32_t Interval() const { return std::get<1>(GetParam()); }
  Result<std::unique_ptr<EngineFixture>> Load(int32_t interval) const {
    return EngineFixture::Load(Path(), TensorType::kF16, 64ull << 20, 0, interval);
  }
  std::string Label() const { return std::string(std::get<0>(GetParam()).shape) + " k=" + std::to_string(Interval()); }
};

TEST_P(RecurrentIntervalTest, EverySplitPointFromRamRollsBackToTheLastCheckpointAndIsExact) {
  auto fx = Load(Interval());
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  const std::vector<int32_t> prompt = HybridPrompt();
  FromScratch(f, prompt);
  const MemoryStats st = f.memory->Stats();
  ASSERT_EQ(st.namespaces.size(), 1u);
  EXPECT_EQ(st.namespaces[0].checkpoint_interval_blocks, Interval());
  EXPECT_EQ(st.namespaces[0].blocks_with_checkpoint, 3 / Interval()) << "blocks 0..2 of 100 tokens are sealed";
  ASSERT_NO_FATAL_FAILURE(ExpectEverySplitExactFromRam(f, prompt, Interval(), Label()));
  EXPECT_GT(f.memory->Stats().namespaces[0].checkpoint_rollback_tokens, 0);
}

TEST_P(RecurrentIntervalTest, EverySplitPointFromDiskAfterRestartIsExactAndStoresLessState) {
  const std::string base = TempDir() + "/recurrent-interval-" + std::get<0>(GetParam()).shape;
  auto open_disk = [](const std::string& dir) {
    return [dir] {
      DiskBackendOptions o;
      o.dir = dir;
      o.capacity_bytes = 64 << 20;
      return std::unique_ptr<TierBackend>(DiskBackend::Open(o).value());
    };
  };
  const std::vector<int32_t> prompt = HybridPrompt();
  const std::string dir = base + "-k" + std::to_string(Interval());
  const uint64_t bytes_k = EverySplitFromTierIsExact([&] { return Load(Interval()); }, open_disk(dir), prompt,
                                                     Interval(), Label() + " disk");
  ASSERT_FALSE(::testing::Test::HasFailure());
  // The same prefix stored with a checkpoint in every block: more bytes for the 3 blocks.
  const std::string dir1 = base + "-k1-vs" + std::to_string(Interval());
  const uint64_t bytes_1 = EverySplitFromTierIsExact([&] { return Load(1); }, open_disk(dir1), prompt, 1,
                                                     std::string(std::get<0>(GetParam()).shape) + " k=1 disk");
  EXPECT_LT(bytes_k, bytes_1) << "tier entries of blocks without a checkpoint must not carry state";
  std::printf("[ interval ] %s: a 96-token prefix reads %llu stored bytes from disk at k=1, %llu at k=%d\n",
              std::get<0>(GetParam()).shape, static_cast<unsigned long long>(bytes_1),
              static_cast<unsigned long long>(bytes_k), Interval());
}

TEST_P(RecurrentIntervalTest, TruncationRollsBackToTheLastCheckpointAndContinuesExactly) {
  auto fx = Load(Interval());
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  const std::vector<int32_t> prompt = HybridPrompt();
  const std::vector<float> ref = FromScratch(f, prompt);
  // A conversation edited at `cut`: its sequence keeps what lies before the last checkpoint at
  // or before `cut`, continues from that state and computes the rest again.
  for (int64_t cut : {int64_t{5}, int64_t{40}, int64_t{64}, int64_t{70}, int64_t{99}}) {
    auto seq = f.memory->CreateSequence(f.ns);
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE(f.Feed(*seq, prompt, 1 << 20).ok());
    auto r = f.memory->TruncateToCheckpoint(*seq, cut);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->matched_tokens, CheckpointedMatch(cut, kBlock, Interval())) << Label() << " cut " << cut;
    EXPECT_EQ(*f.memory->Length(*seq), r->matched_tokens);
    ASSERT_TRUE(f.forward->SetRecurrentState(*seq, r->recurrent_state).ok());
    auto logits = f.Feed(*seq, std::span<const int32_t>(prompt).subspan(static_cast<size_t>(r->matched_tokens)), 1 << 20);
    ASSERT_TRUE(logits.ok()) << logits.status().ToString();
    EXPECT_TRUE(SameBytes(ref, *logits)) << Label() << " cut " << cut;
    ASSERT_TRUE(f.memory->Release(*seq).ok());
    f.forward->ForgetSequence(*seq);
  }
}

TEST_P(RecurrentIntervalTest, BlocksWithoutACheckpointTakeOnlyTheirKvFromTheBudget) {
  auto fx = Load(Interval());
  auto fx1 = Load(1);
  ASSERT_TRUE(fx.ok() && fx1.ok());
  const std::vector<int32_t> prompt = HybridPrompt(96);  // three whole blocks
  FromScratch(**fx, prompt);
  FromScratch(**fx1, prompt);
  const uint64_t used_k = (*fx)->memory->Stats().used_bytes, used_1 = (*fx1)->memory->Stats().used_bytes;
  const uint64_t kv = BlockPool::SlotBytes((*fx)->memory->Layout((*fx)->ns)->block_bytes());
  const uint64_t slot = used_1 / 3;
  EXPECT_EQ(used_k, (3 / Interval()) * slot + (3 - 3 / Interval()) * kv) << Label();
  std::printf("[ interval ] %s: 3 cached blocks take %llu bytes at k=1, %llu at k=%d\n", std::get<0>(GetParam()).shape,
              static_cast<unsigned long long>(used_1), static_cast<unsigned long long>(used_k), Interval());
}

INSTANTIATE_TEST_SUITE_P(Models, RecurrentIntervalTest, ::testing::Combine(::testing::ValuesIn(kModels), ::testing::Values(2, 3)),
                         [](const auto& info) {
                           std::string s = std::string(std::get<0>(info.param).shape) + "_k" + std::to_string(std::get<1>(info.param));
                           for (char& c : s) c = c == '-' ? '_' : c;
                           return s;
                         });

}  // namespace
}  // namespace swarmkv::testing
