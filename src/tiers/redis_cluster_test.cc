#include "tiers/redis_cluster.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

TEST(RedisClusterTest, KeySlotsAsTheClusterSpecComputesThem) {
  // The spec's CRC16 check value and CLUSTER KEYSLOT answers of a real server (redis 7.0).
  EXPECT_EQ(RedisKeySlot("123456789"), 0x31C3 % kRedisClusterSlots);
  EXPECT_EQ(RedisKeySlot("foo"), 12182);
  EXPECT_EQ(RedisKeySlot("bar"), 5061);
  // Hash tags: only the first {...}, and only when not empty.
  EXPECT_EQ(RedisKeySlot("{user1000}.following"), RedisKeySlot("user1000"));
  EXPECT_EQ(RedisKeySlot("foo{}{bar}"), RedisKeySlot("foo{}{bar}"));
  EXPECT_NE(RedisKeySlot("foo{}{bar}"), RedisKeySlot("bar"));
  EXPECT_EQ(RedisKeySlot("foo{{bar}}zap"), RedisKeySlot("{bar"));
}

TEST(RedisClusterTest, RedirectsAreParsedOrRefused) {
  auto moved = ParseRedirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved.has_value());
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->to, (RedisNodeAddress{"127.0.0.1", 6381}));
  auto ask = ParseRedirect("ASK 12 ::1:7000");
  ASSERT_TRUE(ask.has_value());
  EXPECT_TRUE(ask->ask);
  EXPECT_EQ(ask->to.host, "::1");
  for (const char* bad : {"ERR wrong", "MOVED", "MOVED 16384 h:1", "MOVED -1 h:1", "MOVED 1 nohost", "MOVED 1 h:0",
                          "ASK 1 h:99999", "MOVED x h:1"})
    EXPECT_FALSE(ParseRedirect(bad).has_value()) << bad;
}

TEST(RedisClusterTest, SlotMapPatchedByMoved) {
  RedisSlotMap map;
  EXPECT_EQ(map.NodeFor(5), nullptr);
  map.Set(5, {"a", 1});
  map.Set(6, {"b", 2});
  map.Set(7, {"a", 1});
  EXPECT_EQ(map.nodes().size(), 2u);
  EXPECT_EQ(*map.NodeFor(7), (RedisNodeAddress{"a", 1}));
  EXPECT_EQ(map.covered_slots(), 3);
}

}  // namespace
}  // namespace swarmkv
