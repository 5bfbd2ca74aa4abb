#include "tiers/tier_manager.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "base/testing.h"
#include "tiers/disk_backend.h"
#include "tiers/forwarding_backend.h"
#include "tiers/restore_all.h"
#include "tiers/synthetic_kv.h"

namespace swarmkv {
namespace {

const Hash128 kNs{0xAB, 0xCD};

// A chain of synthetic blocks with their KV.
// A synthetic chain of `n` blocks, block i seeded 100 + i.
struct Chain : SyntheticChain {
  explicit Chain(int n, const Hash128& ns = kNs) : SyntheticChain(n, ns, 100) {}
};

std::unique_ptr<DiskBackend> Disk(const std::string& name = "disk") {
  DiskBackendOptions o;
  o.dir = testing::TempDir();
  o.capacity_bytes = 64 << 20;
  o.name = name;
  return DiskBackend::Open(o).value();
}

// Holds Put until released: a real disk backend behind a gate, to create backpressure.
class GatedBackend final : public ForwardingBackend {
 public:
  explicit GatedBackend(TierBackend* base) : ForwardingBackend(base) {}
  void Open() {
    std::lock_guard l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  Status Put(const Hash128& key, std::span<const uint8_t> bytes) override {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return open_; });
    return base()->Put(key, bytes);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(TierManagerTest, WriteBackThenRestoreReturnsTheExactChain) {
  auto disk = Disk();
  TierManager tm({.tiers = {{disk.get(), true}}});
  Chain c(4);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(tm.OnEvicted(c.Block(i)));
  tm.Flush();
  EXPECT_EQ(disk->stats().entries, 4);
  auto ids = c.Ids();
  RestoredChain r = RestoreAll(tm, kNs, Hash128{}, ids, c.layout);
  ASSERT_EQ(r.blocks.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r.blocks[i].id, c.metas[i].id);
    EXPECT_EQ(r.blocks[i].parent, c.metas[i].parent);
    EXPECT_EQ(r.blocks[i].tokens, c.metas[i].tokens);
    EXPECT_EQ(r.blocks[i].kv_bytes, c.kv[i]);
    EXPECT_EQ(r.blocks[i].tier, 0);
  }
  auto s = tm.stats();
  EXPECT_EQ(s.writeback_enqueued, 4);
  EXPECT_EQ(s.tiers[0].written, 4);
  EXPECT_EQ(s.tiers[0].blocks_read, 4);
  EXPECT_GT(s.tiers[0].bandwidth_bytes_per_second, 0);
  EXPECT_TRUE(tm.CheckInvariants().ok());
  // Restoring from the middle of the chain needs the right parent.
  RestoredChain tail = RestoreAll(tm, kNs, c.metas[1].id, std::span(ids).subspan(2), c.layout);
  EXPECT_EQ(tail.blocks.size(), 2u);
}

TEST(TierManagerTest, ChainStopsAtTheFirstGap) {
  auto disk = Disk();
  TierManager tm({.tiers = {{disk.get(), true}}});
  Chain c(3);
  tm.OnEvicted(c.Block(0));
  tm.OnEvicted(c.Block(2));
  tm.Flush();
  RestoredChain r = RestoreAll(tm, kNs, Hash128{}, c.Ids(), c.layout);
  EXPECT_EQ(r.blocks_available, 1);
  ASSERT_EQ(r.blocks.size(), 1u);
  EXPECT_EQ(r.blocks[0].id, c.metas[0].id);
}

// Flipped byte, truncation, foreign namespace under the right key, wrong parent: each entry is
// dropped from the tier, counted, and the next tier (shared dir) serves the block instead.
TEST(TierManagerTest, BadEntriesAreDeletedCountedAndNeverUsed) {
  auto disk = Disk("disk");
  auto shared = Disk("shared");
  TierManager tm({.tiers = {{disk.get(), true}, {shared.get(), true}}});
  Chain c(4);
  for (int i = 0; i < 4; ++i) tm.OnEvicted(c.Block(i));
  tm.Flush();
  // 0: a flipped byte in the middle of a layer.
  {
    std::string path = disk->PathFor(c.metas[0].id);
    std::string bytes = Env::Default()->ReadFile(path).value();
    bytes[bytes.size() / 2] ^= 0x10;
    ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, bytes, false).ok());
  }
  // 1: truncated.
  std::filesystem::resize_file(disk->PathFor(c.metas[1].id), 1000);
  // 2: an entry of another namespace stored under block 2's key.
  {
    Chain other(1, Hash128{9, 9});
    std::string foreign = EncodeEntry(other.metas[0], other.kv[0], {}).value();
    ASSERT_TRUE(disk->Put(c.metas[2].id, AsBytes(foreign)).ok());
  }
  // 3: a valid entry but for a different chain position (parent mismatch).
  {
    EntryMeta m = c.metas[3];
    m.parent = Hash128{5, 5};
    std::string wrong = EncodeEntry(m, c.kv[3], {}).value();
    ASSERT_TRUE(disk->Put(c.metas[3].id, AsBytes(wrong)).ok());
  }
  RestoredChain r = RestoreAll(tm, kNs, Hash128{}, c.Ids(), c.layout);
  ASSERT_EQ(r.blocks.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r.blocks[i].tier, 1) << i;
    EXPECT_EQ(r.blocks[i].kv_bytes, c.kv[i]) << i;
    EXPECT_FALSE(std::filesystem::exists(disk->PathFor(c.metas[i].id))) << i;
  }
  EXPECT_EQ(tm.stats().tiers[0].corrupt_dropped, 4);
  // Without the shared copy, the same damage ends the chain: nothing bad is returned.
  ASSERT_TRUE(shared->Erase(c.metas[0].id).ok());
  EXPECT_TRUE(RestoreAll(tm, kNs, Hash128{}, c.Ids(), c.layout).blocks.empty());
}

// RestoreInto with several readers: blocks reach the sink in chain order and byte-exact (raw
// entries straight from the read buffer, compressed ones through the scratch buffer), a bad
// entry in the middle ends the chain there (nothing after it is delivered, even though readers
// had fetched it), and a sink that says stop ends it too.
TEST(TierManagerTest, StreamingRestoreDeliversInOrderAndStopsAtBadEntriesOrTheSink) {
  for (int zstd : {0, 3}) {
    auto disk = Disk();
    // Zero-heavy layers so that zstd pays: the compressed path is exercised too.
    TierManager tm({.tiers = {{disk.get(), true}}, .encode = {.zstd_level = zstd}, .restore_parallelism = 3});
    Chain c(12);
    for (auto& kv : c.kv) std::fill(kv.begin(), kv.begin() + static_cast<std::ptrdiff_t>(kv.size() / 2), 0);
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(tm.OnEvicted(c.Block(i)));
    tm.Flush();
    const auto ids = c.Ids();
    auto check_order = [&](int64_t* delivered) {
      return [&c, delivered](const RestoredView& v) {
        const int64_t i = (*delivered)++;
        EXPECT_EQ(v.id, c.metas[i].id) << i;
        EXPECT_EQ(v.parent, c.metas[i].parent) << i;
        EXPECT_TRUE(std::equal(v.kv_bytes.begin(), v.kv_bytes.end(), c.kv[i].begin(), c.kv[i].end())) << i;
        EXPECT_TRUE(std::equal(v.tokens.begin(), v.tokens.end(), c.metas[i].tokens.begin())) << i;
        return true;
      };
    };
    int64_t delivered = 0;
    RestoreResult all = tm.RestoreInto(kNs, Hash128{}, ids, c.layout, check_order(&delivered));
    EXPECT_EQ(all.blocks_delivered, 12);
    EXPECT_EQ(delivered, 12);
    // The sink stops after 5.
    int64_t seen = 0;
    RestoreResult stopped = tm.RestoreInto(kNs, Hash128{}, ids, c.layout, [&](const RestoredView&) { return ++seen < 5; });
    EXPECT_EQ(seen, 5);
    EXPECT_EQ(stopped.blocks_delivered, 4);
    // Block 6 flipped on disk: 0..5 arrive, 6 is erased and counted, 7.. are not delivered.
    {
      std::string path = disk->PathFor(c.metas[6].id);
      std::string bytes = Env::Default()->ReadFile(path).value();
      bytes[bytes.size() - 100] ^= 0x01;
      ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, AsBytes(bytes), false).ok());
    }
    delivered = 0;
    RestoreResult bad = tm.RestoreInto(kNs, Hash128{}, ids, c.layout, check_order(&delivered));
    EXPECT_EQ(bad.blocks_delivered, 6);
    EXPECT_EQ(delivered, 6);
    EXPECT_EQ(tm.stats().tiers[0].corrupt_dropped, 1);
    EXPECT_FALSE(disk->Contains(c.metas[6].id).value());
    if (zstd > 0) EXPECT_LT(disk->stats().bytes, 11 * c.layout.block_bytes()) << "entries were compressed";
  }
}

TEST(TierManagerTest, ForeignLayoutIsRejected) {
  auto disk = Disk();
  TierManager tm({.tiers = {{disk.get(), true}}});
  Chain c(1);
  tm.OnEvicted(c.Block(0));
  tm.Flush();
  EntryLayout other = c.layout;
  other.k_type = 8;  // q8_0
  EXPECT_TRUE(RestoreAll(tm, kNs, Hash128{}, c.Ids(), other).blocks.empty());
  EXPECT_EQ(tm.stats().tiers[0].corrupt_dropped, 1);
}

TEST(TierManagerTest, BackpressureDropsAndCountsButNeverBlocks) {
  auto disk = Disk();
  GatedBackend gated(disk.get());
  TierManager tm({.tiers = {{&gated, true}}, .queue_max_blocks = 2});
  Chain c(10);
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += tm.OnEvicted(c.Block(i)) ? 1 : 0;  // returns although writes are stuck
  // The writer may have taken one job out of the queue before blocking: 2 or 3 accepted.
  EXPECT_GE(accepted, 2);
  EXPECT_LE(accepted, 3);
  auto s = tm.stats();
  EXPECT_EQ(s.writeback_dropped, 10 - accepted);
  EXPECT_EQ(s.writeback_enqueued, accepted);
  EXPECT_TRUE(tm.CheckInvariants().ok());
  gated.Open();
  tm.Flush();
  EXPECT_EQ(tm.stats().tiers[0].written, accepted);
}

TEST(TierManagerTest, QueueByteBoundAlsoDrops) {
  auto disk = Disk();
  GatedBackend gated(disk.get());
  Chain c(3);
  TierManager tm({.tiers = {{&gated, true}}, .queue_max_bytes = c.kv[0].size() - 1});
  EXPECT_FALSE(tm.OnEvicted(c.Block(0)));
  EXPECT_EQ(tm.stats().writeback_dropped, 1);
  gated.Open();
}

TEST(TierManagerTest, CostModelPicksTheCheaperPath) {
  auto disk = Disk();
  TierManager tm({.tiers = {{disk.get(), true}}});
  Chain c(2);
  tm.OnEvicted(c.Block(0));
  tm.OnEvicted(c.Block(1));
  tm.Flush();
  // Unmeasured: restore (that is how the bandwidth gets measured).
  EXPECT_EQ(RestoreAll(tm, kNs, Hash128{}, c.Ids(), c.layout).blocks.size(), 2u);
  // An absurdly fast model: recomputing 64 tokens beats any disk read.
  tm.SetPrefillTokensPerSecond(1e15);
  RestoredChain fast = RestoreAll(tm, kNs, Hash128{}, c.Ids(), c.layout);
  EXPECT_TRUE(fast.chose_recompute);
  EXPECT_TRUE(fast.blocks.empty());
  EXPECT_EQ(fast.blocks_available, 2);
  EXPECT_GT(fast.estimated_restore_seconds, fast.estimated_recompute_seconds);
  // A slow model (10 tokens/s): restoring wins.
  tm.SetPrefillTokensPerSecond(10);
  RestoredChain slow = RestoreAll(tm, kNs, Hash128{}, c.Ids(), c.layout);
  EXPECT_FALSE(slow.chose_recompute);
  EXPECT_EQ(slow.blocks.size(), 2u);
  EXPECT_LT(slow.estimated_restore_seconds, slow.estimated_recompute_seconds);
  EXPECT_EQ(tm.stats().restore_chose_recompute, 1);
}

TEST(TierManagerTest, RestoreFromAnotherThreadAndDrainOnShutdown) {
  auto disk = Disk();
  Chain c(3);
  {
    TierManager tm({.tiers = {{disk.get(), true}}});
    for (int i = 0; i < 3; ++i) tm.OnEvicted(c.Block(i));
  }  // destructor drains the queue
  EXPECT_EQ(disk->stats().entries, 3);
  TierManager tm({.tiers = {{disk.get(), false}}});
  EXPECT_FALSE(tm.OnEvicted(c.Block(0)));  // no write-back tier
  auto fut = std::async(std::launch::async, [&] { return RestoreAll(tm, kNs, Hash128{}, c.Ids(), c.layout); });
  EXPECT_EQ(fut.get().blocks.size(), 3u);
}

}  // namespace
}  // namespace swarmkv
