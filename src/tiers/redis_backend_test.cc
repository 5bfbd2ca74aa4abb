// Unit tests of the Redis backend that need no server (URL parsing, behaviour while down).
// Tests against a real redis-server are in tests/tiers/.
#include "tiers/redis_backend.h"

#include <gtest/gtest.h>

#include "base/sysinfo.h"

namespace swarmkv {
namespace {

TEST(RedisUrlTest, Parses) {
  auto a = ParseRedisUrl("redis://cache.local:6380/3").value();
  EXPECT_EQ(a.host, "cache.local");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.db, 3);
  auto b = ParseRedisUrl("redis://10.0.0.1").value();
  EXPECT_EQ(b.port, 6379);
  EXPECT_EQ(b.db, 0);
  EXPECT_EQ(ParseRedisUrl("redis://h:1/").value().db, 0);
  for (const char* bad : {"http://h:1/0", "redis://", "redis://h:0/0", "redis://h:99999", "redis://h:12x/0",
                          "redis://h:1/-1", "redis://u@h:1/0", "redis://u:@h:1/0", "redis://u:%zz@h:1",
                          "redis://:1/0"}) {
    EXPECT_EQ(ParseRedisUrl(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(RedisUrlTest, CredentialsAndTls) {
  auto a = ParseRedisUrl("redis://app:s%40cret%3Ax@cache:6380/2").value();
  EXPECT_EQ(a.username, "app");
  EXPECT_EQ(a.password, "s@cret:x");
  EXPECT_EQ(a.host, "cache");
  EXPECT_EQ(a.port, 6380);
  auto b = ParseRedisUrl("redis://:pw@h").value();
  EXPECT_EQ(b.username, "");
  EXPECT_EQ(b.password, "pw");
  EXPECT_EQ(RedactRedisUrl("redis://app:s3cret@h:1/0"), "redis://app:***@h:1/0");
  EXPECT_EQ(RedactRedisUrl("redis://h:1/0"), "redis://h:1/0");
  // A bad URL's error never shows the password.
  auto bad = ParseRedisUrl("redis://u:topsecret@h:0/0");
  EXPECT_EQ(bad.status().message().find("topsecret"), std::string::npos) << bad.status().message();
  auto tls = ParseRedisUrl("rediss://u:topsecret@h:6380/1").value();
  EXPECT_TRUE(tls.tls);
  EXPECT_EQ(tls.username, "u");
  EXPECT_EQ(tls.password, "topsecret");
  EXPECT_EQ(tls.host, "h");
  EXPECT_EQ(tls.port, 6380);
  EXPECT_EQ(tls.db, 1);
  EXPECT_FALSE(ParseRedisUrl("redis://h:1/0").value().tls);
  EXPECT_EQ(RedactRedisUrl("rediss://u:topsecret@h:6380/1"), "rediss://u:***@h:6380/1");
  auto bad_tls = ParseRedisUrl("rediss://u:topsecret@h:0/0");
  EXPECT_EQ(bad_tls.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_tls.status().message().find("topsecret"), std::string::npos);
  EXPECT_EQ(ParseRedisUrl("redisss://h:1").status().code(), StatusCode::kInvalidArgument);
}

TEST(RedisBackendTest, TlsOptionsNeedARedissUrl) {
  RedisBackendOptions o;
  o.url = "redis://127.0.0.1:1/0";
  o.tls.ca_path = "/etc/ssl/certs";
  auto r = RedisBackend::Open(o);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("rediss://"), std::string::npos) << r.status().message();
  // A TLS server that is down is no start-up error either (the system CA store, no files).
  o.url = "rediss://127.0.0.1:1/0";
  o.tls = {};
  auto down = RedisBackend::Open(o);
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_FALSE((*down)->connected());
  EXPECT_EQ((*down)->Get(Hash128{1, 2}).status().code(), StatusCode::kUnavailable);
}

TEST(RedisBackendTest, DownAtStartMeansFastUnavailableNotFailure) {
  // Port 1 on loopback: nothing listens, connections are refused at once.
  RedisBackendOptions o;
  o.url = "redis://127.0.0.1:1/0";
  auto r = RedisBackend::Open(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto& b = *r;
  EXPECT_FALSE(b->connected());
  const int64_t start = MonotonicNanos();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(b->Get(Hash128{1, 2}).status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(b->Put(Hash128{1, 2}, std::vector<uint8_t>(10)).code(), StatusCode::kUnavailable);
  }
  EXPECT_LT(MonotonicNanos() - start, 1'000'000'000);  // never waits on the dead server
  EXPECT_FALSE(b->stats().available);
  EXPECT_EQ(b->stats().put_failures, 100);
  EXPECT_EQ(RedisBackend::Open({.url = "nope"}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace swarmkv
