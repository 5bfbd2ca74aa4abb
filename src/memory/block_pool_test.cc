#include "memory/block_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "base/sysinfo.h"

namespace swarmkv {
namespace {

TEST(BlockPoolTest, OneBudgetAcrossSizeClasses) {
  BlockPoolOptions o;
  o.budget_bytes = 10 * 4096;
  o.retain_free_bytes = 0;
  auto pool = BlockPool::Create(o);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  BlockPool& p = **pool;
  ASSERT_TRUE(p.AddSizeClass(4096).ok());
  ASSERT_TRUE(p.AddSizeClass(3 * 4096).ok());
  uint8_t* a = p.Allocate(3 * 4096);
  uint8_t* b = p.Allocate(3 * 4096);
  uint8_t* c = p.Allocate(3 * 4096);
  ASSERT_TRUE(a && b && c);
  uint8_t* d = p.Allocate(4096);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(p.used_bytes(), 10u * 4096);
  EXPECT_EQ(p.Allocate(4096), nullptr) << "the budget is shared: a small block does not fit either";
  std::memset(a, 1, 3 * 4096);
  std::memset(d, 2, 4096);
  p.Free(a, 3 * 4096);
  uint8_t* e = p.Allocate(4096);
  ASSERT_NE(e, nullptr) << "freeing a large block makes room for a small one";
  EXPECT_EQ(d[0], 2) << "other blocks keep their bytes";
  EXPECT_TRUE(p.CheckInvariants().ok());
  p.Free(b, 3 * 4096);
  p.Free(c, 3 * 4096);
  p.Free(d, 4096);
  p.Free(e, 4096);
  EXPECT_EQ(p.used_bytes(), 0u);
}

TEST(BlockPoolTest, RejectsBadClasses) {
  BlockPoolOptions o;
  o.budget_bytes = 8 * 4096;
  o.max_size_classes = 2;
  auto pool = BlockPool::Create(o);
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ((*pool)->AddSizeClass(100).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*pool)->AddSizeClass(9 * 4096).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*pool)->AddSizeClass(4096).ok());
  EXPECT_TRUE((*pool)->AddSizeClass(4096).ok());
  EXPECT_TRUE((*pool)->AddSizeClass(8192).ok());
  EXPECT_EQ((*pool)->AddSizeClass(3 * 4096).code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(BlockPool::Create(BlockPoolOptions{}).ok());
}

TEST(BlockPoolTest, RetainedFreeSlotsAreReusedThenReleased) {
  BlockPoolOptions o;
  o.budget_bytes = 64 * 4096;
  o.retain_free_bytes = 2 * 4096;
  auto pool = BlockPool::Create(o);
  ASSERT_TRUE(pool.ok());
  BlockPool& p = **pool;
  ASSERT_TRUE(p.AddSizeClass(4096).ok());
  std::vector<uint8_t*> slots;
  for (int i = 0; i < 4; ++i) slots.push_back(p.Allocate(4096));
  for (uint8_t* s : slots) p.Free(s, 4096);
  EXPECT_EQ(p.used_bytes(), 0u);
  EXPECT_EQ(p.committed_bytes(), 2u * 4096) << "only retain_free_bytes stay committed";
  uint8_t* again = p.Allocate(4096);
  EXPECT_TRUE(again == slots[0] || again == slots[1] || again == slots[2] || again == slots[3]);
  p.Free(again, 4096);
  p.ReleaseRetained();
  EXPECT_EQ(p.committed_bytes(), 0u);
  EXPECT_TRUE(p.CheckInvariants().ok());
}

// kvcached's property on the host: memory is committed as blocks are used and handed back to the
// OS when they are freed.
TEST(BlockPoolTest, RssFallsBackAfterFreeingOneGiB) {
  constexpr uint64_t kSlot = 1 << 20;
  constexpr uint64_t kGiB = 1ull << 30;
  BlockPoolOptions o;
  o.budget_bytes = kGiB;
  o.retain_free_bytes = 0;
  auto pool = BlockPool::Create(o);
  ASSERT_TRUE(pool.ok());
  BlockPool& p = **pool;
  ASSERT_TRUE(p.AddSizeClass(kSlot).ok());
  const uint64_t rss0 = CurrentRssBytes();
  if (rss0 == 0) GTEST_SKIP() << "RSS is not readable from /proc on this system";
  std::vector<uint8_t*> slots;
  for (uint64_t i = 0; i < kGiB / kSlot; ++i) {
    uint8_t* s = p.Allocate(kSlot);
    ASSERT_NE(s, nullptr) << "slot " << i;
    std::memset(s, static_cast<int>(i), kSlot);
    slots.push_back(s);
  }
  EXPECT_EQ(p.Allocate(kSlot), nullptr);
  const uint64_t rss_full = CurrentRssBytes();
  EXPECT_GE(rss_full, rss0 + kGiB * 9 / 10) << "filling 1 GiB of blocks commits it";
  for (uint8_t* s : slots) p.Free(s, kSlot);
  const uint64_t rss_after = CurrentRssBytes();
  // NOTE: under AddressSanitizer the memset above also commits the shadow of the 1 GiB (one byte
  // per eight), which ASan keeps; the pool's own pages must still all go back.
#if defined(__SANITIZE_ADDRESS__)
  constexpr uint64_t kSanitizerShadow = kGiB / 8;
#else
  constexpr uint64_t kSanitizerShadow = 0;
#endif
  EXPECT_LE(rss_after, rss0 + (64ull << 20) + kSanitizerShadow) << "freed blocks go back to the OS (rss0=" << rss0 << " full=" << rss_full
                                             << " after=" << rss_after << ")";
  EXPECT_EQ(p.committed_bytes(), 0u);
}

}  // namespace
}  // namespace swarmkv
