#include "tiers/tier_stack.h"

#include <gtest/gtest.h>

#include "base/testing.h"
#include "tiers/synthetic_kv.h"

namespace swarmkv {
namespace {

TEST(TierStackTest, BuildsTiersInRestoreOrder) {
  TierConfig c;
  c.disk_dir = testing::TempDir();
  c.disk_size = "1GiB";
  c.shared_dir = testing::TempDir();
  c.shared_size = "10MiB";
  c.redis_url = "redis://127.0.0.1:1/0";  // down: still builds, reconnects in the background
  auto s = OpenTiers(c);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->backends.size(), 3u);
  EXPECT_EQ(s->backends[0]->name(), "disk");
  EXPECT_EQ(s->backends[1]->name(), "shared");
  EXPECT_EQ(s->backends[2]->name(), "redis");
  EXPECT_EQ(s->backends[1]->stats().capacity_bytes, 10u << 20);
  // Write-back reaches both disks although Redis is down.
  EntryLayout l = SmolLm2KvLayout();
  EntryMeta m = SyntheticMeta(l, Hash128{1, 1}, Hash128{}, 1);
  auto kv = SyntheticKvBlock(l, 1);
  ASSERT_TRUE(s->manager->OnEvicted({m.namespace_id, m.id, m.parent, m.tokens, kv, {}, l}));
  s->manager->Flush();
  EXPECT_TRUE(s->backends[0]->Contains(m.id).value());
  EXPECT_TRUE(s->backends[1]->Contains(m.id).value());
  EXPECT_EQ(s->manager->stats().tiers[2].write_failures, 1);
}

TEST(TierStackTest, BadFlagsAreClearErrors) {
  TierConfig c;
  c.disk_dir = "off";
  EXPECT_TRUE(OpenTiers(c)->backends.empty());
  c.redis_url = "localhost:6379";
  auto bad_url = OpenTiers(c);
  EXPECT_EQ(bad_url.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_url.status().message().find("--kv-redis"), std::string::npos);
  c.redis_url.clear();
  c.disk_dir = testing::TempDir();
  c.disk_size = "lots";
  EXPECT_EQ(OpenTiers(c).status().code(), StatusCode::kInvalidArgument);
  c.disk_size = "1GiB";
  c.zstd_level = 99;
  EXPECT_EQ(OpenTiers(c).status().code(), StatusCode::kInvalidArgument);
  c.zstd_level = 1;
  // --redis-tls-* without any Redis tier: an error naming them, not ignored.
  c.redis_tls.insecure = true;
  auto tls_alone = OpenTiers(c);
  EXPECT_EQ(tls_alone.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(tls_alone.status().message().find("--redis-tls"), std::string::npos) << tls_alone.status().message();
  // A missing CA file stops start-up, naming the flag.
  c.redis_tls = {.ca_path = "/nonexistent/ca.pem"};
  c.redis_url = "rediss://127.0.0.1:1/0";
  auto bad_ca = OpenTiers(c);
  EXPECT_EQ(bad_ca.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_ca.status().message().find("--redis-tls-ca"), std::string::npos) << bad_ca.status().message();
}

}  // namespace
}  // namespace swarmkv
