// End to end with the real memory core: KV evicted from RAM goes to disk, survives a "restart"
// (new KvMemory, new TierManager, disk index rebuilt from the directory) and comes back
// byte-for-byte, matched by AttachPrefix like any cached block.
#include "tiers/memory_bridge.h"

#include <gtest/gtest.h>

#include <numeric>

#include "base/sysinfo.h"
#include "base/testing.h"
#include "memory/kv_test_util.h"
#include "tiers/disk_backend.h"
#include "tiers/forwarding_backend.h"
#include "tiers/tiers_test_util.h"

namespace swarmkv {
namespace {

const Hash128 kNs{0x51, 0x52};
constexpr uint64_t kSalt = 77;

std::unique_ptr<KvMemory> NewMemory(uint64_t budget_bytes, bool hybrid) {
  return testing::NewTierTestMemory(kNs, "bridge-test", budget_bytes, hybrid);
}
std::unique_ptr<DiskBackend> OpenDisk(const std::string& dir) { return testing::OpenTierTestDisk(dir); }

void RunRestartRoundTrip(bool hybrid) {
  const std::string dir = testing::TempDir();
  std::vector<int32_t> tokens(40);
  std::iota(tokens.begin(), tokens.end(), 1000);
  {
    auto disk = OpenDisk(dir);
    TierManager tm({.tiers = {{disk.get(), true}}});
    auto mem = NewMemory(1 << 20, hybrid);
    ConnectTiers(mem.get(), &tm);
    const KvLayout layout = mem->Layout(kNs).value();
    SequenceId s = mem->CreateSequence(kNs).value();
    ASSERT_TRUE(testing::AppendTokens(*mem, s, layout, kSalt, tokens, hybrid).ok());
    ASSERT_TRUE(mem->Release(s).ok());
    EXPECT_GT(mem->EvictCached(1ull << 30), 0u);
    tm.Flush();
    EXPECT_EQ(tm.stats().tiers[0].written, 10);
    mem->SetEvictionHook(nullptr);
  }
  // Restart: everything is rebuilt from the directory.
  auto disk = OpenDisk(dir);
  EXPECT_EQ(disk->stats().entries, 10);
  TierManager tm({.tiers = {{disk.get(), true}}});
  auto mem = NewMemory(1 << 20, hybrid);
  ConnectTiers(mem.get(), &tm);
  const KvLayout layout = mem->Layout(kNs).value();
  auto r = RestorePrefix(*mem, tm, kNs, tokens);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ram_blocks, 0);
  EXPECT_EQ(r->restored_blocks, 10);
  SequenceId s = mem->CreateSequence(kNs).value();
  PrefixMatch match = mem->AttachPrefix(s, tokens).value();
  EXPECT_EQ(match.matched_tokens, 40);
  EXPECT_TRUE(testing::VerifySequence(*mem, s, layout, kSalt, tokens));
  if (hybrid) {
    EXPECT_FALSE(match.recurrent_state.empty());
  }
  // Already in RAM now: a second restore finds nothing to do.
  auto again = RestorePrefix(*mem, tm, kNs, tokens);
  EXPECT_EQ(again->ram_blocks, 10);
  EXPECT_EQ(again->restored_blocks, 0);
  ASSERT_TRUE(mem->Release(s).ok());
  EXPECT_TRUE(mem->CheckInvariants().ok());
  mem->SetEvictionHook(nullptr);
}

TEST(MemoryBridgeTest, EvictedKvSurvivesARestartByteForByte) { RunRestartRoundTrip(false); }
TEST(MemoryBridgeTest, HybridStateTravelsWithTheBlocks) { RunRestartRoundTrip(true); }

TEST(MemoryBridgeTest, RestoreContinuesAfterTheRamPartAndStopsAtAGap) {
  auto disk = OpenDisk(testing::TempDir());
  TierManager tm({.tiers = {{disk.get(), true}}});
  auto mem = NewMemory(1 << 20, false);
  ConnectTiers(mem.get(), &tm);
  const KvLayout layout = mem->Layout(kNs).value();
  std::vector<int32_t> tokens(24);
  std::iota(tokens.begin(), tokens.end(), 7);
  SequenceId s = mem->CreateSequence(kNs).value();
  ASSERT_TRUE(testing::AppendTokens(*mem, s, layout, kSalt, tokens, false).ok());
  ASSERT_TRUE(mem->Release(s).ok());
  mem->EvictCached(1ull << 30);
  tm.Flush();
  // Bring the first 2 blocks back, then delete block 4 (index 4) from disk: a gap.
  ASSERT_TRUE(RestorePrefix(*mem, tm, kNs, std::span(tokens).first(8)).ok());
  auto chain = ComputeBlockChain(kNs, tokens, 4);
  ASSERT_TRUE(disk->Erase(chain[4]).ok());
  auto r = RestorePrefix(*mem, tm, kNs, tokens).value();
  EXPECT_EQ(r.ram_blocks, 2);
  EXPECT_EQ(r.restored_blocks, 2);  // blocks 2 and 3; block 4 is missing, 5 is unreachable
  SequenceId t = mem->CreateSequence(kNs).value();
  EXPECT_EQ(mem->AttachPrefix(t, tokens)->matched_tokens, 16);
  EXPECT_TRUE(testing::VerifySequence(*mem, t, layout, kSalt, std::span(tokens).first(16)));
  ASSERT_TRUE(mem->Release(t).ok());
  mem->SetEvictionHook(nullptr);
}

TEST(MemoryBridgeTest, ShutdownFlushWritesEveryCachedBlockThroughASmallQueue) {
  const std::string dir = testing::TempDir();
  std::vector<int32_t> tokens(48);
  std::iota(tokens.begin(), tokens.end(), 300);
  {
    auto disk = OpenDisk(dir);
    // A queue of 2 blocks: a flush that dropped on a full queue would lose most of the 12 blocks.
    TierManager tm({.tiers = {{disk.get(), true}}, .queue_max_blocks = 2});
    auto mem = NewMemory(1 << 20, false);
    ConnectTiers(mem.get(), &tm);
    const KvLayout layout = mem->Layout(kNs).value();
    SequenceId live = mem->CreateSequence(kNs).value();
    ASSERT_TRUE(testing::AppendTokens(*mem, live, layout, kSalt, tokens, false).ok());
    SequenceId held = mem->Fork(live).value();  // a running sequence at shutdown keeps its blocks
    ASSERT_TRUE(mem->Release(live).ok());
    FlushReport busy = FlushMemoryToTiers(*mem, tm, MonotonicNanos() + 10'000'000'000);
    EXPECT_EQ(busy.blocks_evicted, 0);
    ASSERT_TRUE(mem->Release(held).ok());
    FlushReport r = FlushMemoryToTiers(*mem, tm, MonotonicNanos() + 10'000'000'000);
    EXPECT_EQ(r.blocks_evicted, 12);
    EXPECT_EQ(r.blocks_queued, 12);
    EXPECT_TRUE(r.drained);
    EXPECT_EQ(tm.stats().tiers[0].written, 12);
    EXPECT_EQ(tm.stats().writeback_dropped, 0);
    EXPECT_EQ(mem->Stats().namespaces[0].blocks_cached, 0);
    mem->SetEvictionHook(nullptr);
  }
  // After the restart the blocks come back; flushing them again writes nothing (already stored).
  auto disk = OpenDisk(dir);
  TierManager tm({.tiers = {{disk.get(), true}}});
  auto mem = NewMemory(1 << 20, false);
  ConnectTiers(mem.get(), &tm);
  EXPECT_EQ(RestorePrefix(*mem, tm, kNs, tokens)->restored_blocks, 12);
  FlushReport again = FlushMemoryToTiers(*mem, tm, MonotonicNanos() + 10'000'000'000);
  EXPECT_EQ(again.blocks_evicted, 12);
  EXPECT_TRUE(again.drained);
  EXPECT_EQ(tm.stats().tiers[0].written, 0);
  EXPECT_EQ(tm.stats().tiers[0].write_skipped_present, 12);
  mem->SetEvictionHook(nullptr);
}

TEST(MemoryBridgeTest, ShutdownFlushPastItsDeadlineDropsInsteadOfWaiting) {
  auto disk = OpenDisk(testing::TempDir());
  TierManager tm({.tiers = {{disk.get(), true}}, .queue_max_blocks = 1});
  auto mem = NewMemory(1 << 20, false);
  ConnectTiers(mem.get(), &tm);
  const KvLayout layout = mem->Layout(kNs).value();
  std::vector<int32_t> tokens(64);
  std::iota(tokens.begin(), tokens.end(), 9);
  SequenceId s = mem->CreateSequence(kNs).value();
  ASSERT_TRUE(testing::AppendTokens(*mem, s, layout, kSalt, tokens, false).ok());
  ASSERT_TRUE(mem->Release(s).ok());
  const int64_t start = MonotonicNanos();
  FlushReport r = FlushMemoryToTiers(*mem, tm, start - 1);  // already past: nothing waits
  EXPECT_LT(MonotonicNanos() - start, 2'000'000'000);
  EXPECT_EQ(r.blocks_evicted, 16);
  EXPECT_LT(r.blocks_queued, 16);  // the writer cannot keep up with evictions under the lock
  tm.Flush();                      // a block the writer held when the queue was dropped lands
  const TierManagerStats st = tm.stats();
  EXPECT_EQ(st.writeback_dropped + st.tiers[0].written, 16);
  EXPECT_EQ(st.queue_blocks, 0);
  mem->SetEvictionHook(nullptr);
}

// Records the order of writes (forwards everything to a real disk backend).
class RecordingBackend final : public ForwardingBackend {
 public:
  explicit RecordingBackend(TierBackend* base) : ForwardingBackend(base) {}
  Status Put(const Hash128& key, std::span<const uint8_t> bytes) override {
    puts.push_back(key);
    return base()->Put(key, bytes);
  }
  std::vector<Hash128> puts;  // written by the manager's one writer thread; read after Flush
};

// The shutdown flush writes the most recently used blocks first, so a flush its deadline cuts
// short keeps what is most likely reused: the newest sequence's blocks, head first (the old
// order, oldest first, began with the first sequence's tail — useless without its head).
TEST(MemoryBridgeTest, ShutdownFlushWritesTheMostRecentlyUsedFirst) {
  auto disk = OpenDisk(testing::TempDir());
  RecordingBackend rec(disk.get());
  TierManager tm({.tiers = {{&rec, true}}, .queue_max_blocks = 1});
  auto mem = NewMemory(1 << 20, false);
  ConnectTiers(mem.get(), &tm);
  const KvLayout layout = mem->Layout(kNs).value();
  std::vector<int32_t> old_tokens(16), new_tokens(16);
  std::iota(old_tokens.begin(), old_tokens.end(), 100);
  std::iota(new_tokens.begin(), new_tokens.end(), 500);
  for (const auto* t : {&old_tokens, &new_tokens}) {
    SequenceId s = mem->CreateSequence(kNs).value();
    ASSERT_TRUE(testing::AppendTokens(*mem, s, layout, kSalt, *t, false).ok());
    ASSERT_TRUE(mem->Release(s).ok());
  }
  FlushReport r = FlushMemoryToTiers(*mem, tm, MonotonicNanos() + 10'000'000'000);
  EXPECT_TRUE(r.drained);
  const auto o = ComputeBlockChain(kNs, old_tokens, 4), n = ComputeBlockChain(kNs, new_tokens, 4);
  EXPECT_EQ(rec.puts, (std::vector<Hash128>{n[0], n[1], n[2], n[3], o[0], o[1], o[2], o[3]}));
  mem->SetEvictionHook(nullptr);
}

}  // namespace
}  // namespace swarmkv
