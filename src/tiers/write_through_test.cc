// Idle write-through with the real memory core and a real disk tier: blocks sealed by a running
// sequence reach the disk without being evicted, survive a "crash" (nothing flushed, nothing
// evicted: the objects are simply dropped) and come back byte for byte; a block already stored
// is not written again; the pending FIFO is bounded.
#include "tiers/write_through.h"

#include <gtest/gtest.h>

#include <numeric>

#include "base/sysinfo.h"
#include "base/testing.h"
#include "memory/kv_test_util.h"
#include "tiers/disk_backend.h"
#include "tiers/memory_bridge.h"
#include "tiers/tiers_test_util.h"

namespace swarmkv {
namespace {

const Hash128 kNs{0x71, 0x72};
constexpr uint64_t kSalt = 91;

std::unique_ptr<KvMemory> NewMemory() { return testing::NewTierTestMemory(kNs, "write-through-test", 1 << 20); }
std::unique_ptr<DiskBackend> OpenDisk(const std::string& dir) { return testing::OpenTierTestDisk(dir); }

int64_t Deadline() { return MonotonicNanos() + 10'000'000'000; }

TEST(WriteThroughTest, SealedBlocksReachDiskWithoutEvictionAndSurviveACrash) {
  const std::string dir = testing::TempDir();
  std::vector<int32_t> tokens(42);  // 10 full blocks + a partial tail (never sealed, not written)
  std::iota(tokens.begin(), tokens.end(), 2000);
  {
    auto disk = OpenDisk(dir);
    TierManager tm({.tiers = {{disk.get(), true}}});
    auto mem = NewMemory();
    ConnectTiers(mem.get(), &tm);
    WriteThrough wt(mem.get(), &tm);
    const KvLayout layout = mem->Layout(kNs).value();
    SequenceId s = mem->CreateSequence(kNs).value();
    ASSERT_TRUE(testing::AppendTokens(*mem, s, layout, kSalt, tokens, false).ok());
    ASSERT_TRUE(wt.WaitIdle(Deadline()));
    EXPECT_EQ(wt.stats().announced, 10);
    EXPECT_EQ(wt.stats().queued, 10);
    EXPECT_EQ(tm.stats().tiers[0].written, 10);
    EXPECT_EQ(tm.stats().write_through_enqueued, 10);
    EXPECT_EQ(tm.stats().evictions_seen, 0) << "nothing was evicted: the sequence still runs";
    EXPECT_EQ(disk->stats().entries, 10);
    EXPECT_TRUE(mem->CheckInvariants().ok());
    // A second sequence computing the same prompt dedupes: nothing new is announced or written.
    SequenceId t = mem->CreateSequence(kNs).value();
    ASSERT_TRUE(testing::AppendTokens(*mem, t, layout, kSalt, tokens, false).ok());
    ASSERT_TRUE(wt.WaitIdle(Deadline()));
    EXPECT_EQ(tm.stats().tiers[0].written, 10);
    // "kill -9": no eviction, no shutdown flush: the hook goes before anything is released.
    mem->SetEvictionHook(nullptr);
    ASSERT_TRUE(mem->Release(s).ok());
    ASSERT_TRUE(mem->Release(t).ok());
  }
  // Restart: the disk index is rebuilt from the directory; the prefix comes back verified.
  auto disk = OpenDisk(dir);
  EXPECT_EQ(disk->stats().entries, 10);
  TierManager tm({.tiers = {{disk.get(), true}}});
  auto mem = NewMemory();
  ConnectTiers(mem.get(), &tm);
  WriteThrough wt(mem.get(), &tm);
  const KvLayout layout = mem->Layout(kNs).value();
  auto r = RestorePrefix(*mem, tm, kNs, tokens);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->restored_blocks, 10);
  SequenceId s = mem->CreateSequence(kNs).value();
  EXPECT_EQ(mem->AttachPrefix(s, tokens)->matched_tokens, 40);
  EXPECT_TRUE(testing::VerifySequence(*mem, s, layout, kSalt, std::span(tokens).first(40)));
  // Finishing the prompt seals nothing new (the tail is partial); restored blocks are not
  // announced: they are on disk already.
  ASSERT_TRUE(testing::AppendTokens(*mem, s, layout, kSalt, std::span(tokens).subspan(40), false).ok());
  ASSERT_TRUE(wt.WaitIdle(Deadline()));
  EXPECT_EQ(wt.stats().announced, 0);
  // Evicting them later finds them stored: no rewrite.
  ASSERT_TRUE(mem->Release(s).ok());
  mem->EvictCached(UINT64_MAX);
  tm.Flush();
  EXPECT_EQ(tm.stats().tiers[0].written, 0);
  EXPECT_EQ(tm.stats().tiers[0].write_skipped_present, 10);
  mem->SetEvictionHook(nullptr);
}

TEST(WriteThroughTest, ABlockAlreadyStoredIsNotCopiedAgainAndThePendingFifoIsBounded) {
  auto disk = OpenDisk(testing::TempDir());
  TierManager tm({.tiers = {{disk.get(), true}}});
  auto mem = NewMemory();
  ConnectTiers(mem.get(), &tm);
  const KvLayout layout = mem->Layout(kNs).value();
  std::vector<int32_t> tokens(16);
  std::iota(tokens.begin(), tokens.end(), 10);
  {
    WriteThrough wt(mem.get(), &tm);
    SequenceId s = mem->CreateSequence(kNs).value();
    ASSERT_TRUE(testing::AppendTokens(*mem, s, layout, kSalt, tokens, false).ok());
    ASSERT_TRUE(wt.WaitIdle(Deadline()));
    EXPECT_EQ(wt.stats().queued, 4);
    ASSERT_TRUE(mem->Release(s).ok());
    mem->EvictCached(UINT64_MAX);  // eviction write-back finds them stored: skipped
    tm.Flush();
    EXPECT_EQ(tm.stats().tiers[0].written, 4);
    // Computed again from scratch: sealed (announced) again, but the disk holds every block.
    SequenceId t = mem->CreateSequence(kNs).value();
    ASSERT_TRUE(testing::AppendTokens(*mem, t, layout, kSalt, tokens, false).ok());
    ASSERT_TRUE(wt.WaitIdle(Deadline()));
    EXPECT_EQ(wt.stats().announced, 8);
    EXPECT_EQ(wt.stats().already_stored, 4);
    EXPECT_EQ(tm.stats().tiers[0].written, 4);
    ASSERT_TRUE(mem->Release(t).ok());
  }
  {
    // A FIFO of one identity under a burst of 8 seals: most are dropped (counted), none blocks.
    WriteThrough wt(mem.get(), &tm, {.max_pending = 1});
    std::vector<int32_t> more(32);
    std::iota(more.begin(), more.end(), 7000);
    SequenceId s = mem->CreateSequence(kNs).value();
    ASSERT_TRUE(testing::AppendTokens(*mem, s, layout, kSalt, more, false).ok());
    ASSERT_TRUE(wt.WaitIdle(Deadline()));
    const WriteThroughStats st = wt.stats();
    EXPECT_EQ(st.announced, 8);
    EXPECT_EQ(st.queued + st.dropped, 8);
    EXPECT_GE(st.dropped, 1);
    ASSERT_TRUE(mem->Release(s).ok());
  }
  EXPECT_TRUE(mem->CheckInvariants().ok());
  mem->SetEvictionHook(nullptr);
}

}  // namespace
}  // namespace swarmkv
