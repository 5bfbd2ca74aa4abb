// Redis tier against a real redis-server started on a free loopback port: round trip and TTL,
// absent at start, killed mid-run and restarted, corrupt and foreign entries, maxmemory LRU, and
// two processes sharing one Redis.
#include <hiredis/hiredis.h>
#include <gtest/gtest.h>

#include "base/testing.h"
#include "fault_test_util.h"
#include "redis_server.h"
#include "tiers/redis_backend.h"
#include "tiers/restore_all.h"

namespace swarmkv {
namespace {

using testing::BlockChain;
using testing::kFaultNs;
using testing::RedisServer;

#define START_REDIS(var, extra)                                          \
  std::string why_##var;                                                 \
  auto var = RedisServer::Start(&why_##var, extra);                      \
  if (!var) GTEST_SKIP() << "no redis-server for this test: " << why_##var

std::unique_ptr<RedisBackend> Connect(const std::string& url, int64_t ttl = 0) {
  RedisBackendOptions o;
  o.url = url;
  o.ttl_seconds = ttl;
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 200;
  return RedisBackend::Open(o).value();
}

// A direct hiredis command for checks the backend does not expose.
long long RedisInteger(int port, const std::string& cmd, const std::string& key) {
  redisContext* c = redisConnect("127.0.0.1", port);
  auto* r = static_cast<redisReply*>(redisCommand(c, "%s %b", cmd.c_str(), key.data(), key.size()));
  long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
  if (r) freeReplyObject(r);
  redisFree(c);
  return v;
}

TEST(RedisTierTest, RoundTripMissEraseAndTtl) {
  START_REDIS(server, "");
  auto redis = Connect(server->url(2), /*ttl=*/100);
  ASSERT_TRUE(redis->connected());
  BlockChain chain(1, 1);
  std::string entry = EncodeEntry(chain.metas[0], chain.kv[0], {}).value();
  const Hash128 id = chain.metas[0].id;
  EXPECT_FALSE(redis->Get(id).value().has_value());
  ASSERT_TRUE(redis->Put(id, AsBytes(entry)).ok());
  EXPECT_EQ(*redis->Get(id).value(), entry);
  EXPECT_TRUE(redis->Contains(id).value());
  // db 2 was selected: the key is not in db 0; it carries the TTL.
  EXPECT_EQ(RedisInteger(server->port(), "EXISTS", "skv:kv:" + id.ToHex()), 0);
  redisContext* c = redisConnect("127.0.0.1", server->port());
  freeReplyObject(redisCommand(c, "SELECT 2"));
  auto* ttl = static_cast<redisReply*>(redisCommand(c, "TTL skv:kv:%s", id.ToHex().c_str()));
  EXPECT_GT(ttl->integer, 90);
  freeReplyObject(ttl);
  redisFree(c);
  ASSERT_TRUE(redis->Erase(id).ok());
  EXPECT_FALSE(redis->Contains(id).value());
}

// A Redis with a password and an ACL user (issue 17): redis://:pass@ and redis://user:pass@ AUTH;
// a wrong password or none leaves the tier unavailable, never half-working.
TEST(RedisTierTest, PasswordAndAclUserAuth) {
  START_REDIS(server, "--requirepass default-pw");
  {
    redisContext* c = redisConnect("127.0.0.1", server->port());
    freeReplyObject(redisCommand(c, "AUTH default-pw"));
    auto* r = static_cast<redisReply*>(redisCommand(c, "ACL SETUSER app on >app-pw ~skv:* +@all"));
    ASSERT_TRUE(r != nullptr && r->type == REDIS_REPLY_STATUS) << (r ? std::string(r->str, r->len) : "no reply");
    freeReplyObject(r);
    redisFree(c);
  }
  BlockChain chain(1, 1);
  std::string entry = EncodeEntry(chain.metas[0], chain.kv[0], {}).value();
  const Hash128 id = chain.metas[0].id;
  const std::string hostport = "127.0.0.1:" + std::to_string(server->port());
  for (const std::string& url : {"redis://:default-pw@" + hostport + "/0", "redis://app:app-pw@" + hostport + "/0"}) {
    auto redis = Connect(url);
    ASSERT_TRUE(redis->connected()) << RedactRedisUrl(url);
    ASSERT_TRUE(redis->Put(id, AsBytes(entry)).ok());
    EXPECT_EQ(*redis->Get(id).value(), entry);
    ASSERT_TRUE(redis->Erase(id).ok());
  }
  for (const std::string& url : {"redis://" + hostport + "/0", "redis://app:wrong@" + hostport + "/0"}) {
    auto redis = Connect(url);
    EXPECT_FALSE(redis->connected()) << url;
    auto put = redis->Put(id, AsBytes(entry));
    EXPECT_EQ(put.code(), StatusCode::kUnavailable) << put.ToString();
    EXPECT_EQ(put.message().find("wrong"), std::string::npos) << "the password leaked: " << put.message();
  }
}

TEST(RedisTierTest, AbsentAtStartThenStartedResumes) {
  START_REDIS(server, "");
  server->Kill();
  auto redis = Connect(server->url());
  TierManager tm({.tiers = {{redis.get(), true}}});
  BlockChain chain(3, 2);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(tm.OnEvicted(chain.Block(i)));
  tm.Flush();
  EXPECT_EQ(tm.stats().tiers[0].write_failures, 3);
  EXPECT_TRUE(RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.empty());  // a miss, no error
  std::string why;
  ASSERT_TRUE(server->Restart(&why)) << why;
  ASSERT_TRUE(redis->WaitConnected(5000));
  for (int i = 0; i < 3; ++i) tm.OnEvicted(chain.Block(i));
  tm.Flush();
  RestoredChain r = RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
  ASSERT_EQ(r.blocks.size(), 3u);
  EXPECT_EQ(r.blocks[2].kv_bytes, chain.kv[2]);
  EXPECT_GE(redis->reconnects(), 1);
}

TEST(RedisTierTest, KilledMidRunThenRestartedReconnectsWithBackoff) {
  START_REDIS(server, "");
  auto redis = Connect(server->url());
  TierManager tm({.tiers = {{redis.get(), true}}});
  BlockChain chain(4, 3);
  for (int i = 0; i < 4; ++i) tm.OnEvicted(chain.Block(i));
  tm.Flush();
  ASSERT_EQ(RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.size(), 4u);
  server->Kill();
  // Every call still returns (a miss or Unavailable), nothing throws or hangs.
  for (int round = 0; round < 20; ++round) {
    EXPECT_TRUE(RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.empty());
    tm.OnEvicted(chain.Block(round % 4));
  }
  tm.Flush();
  EXPECT_FALSE(redis->connected());
  EXPECT_GT(tm.stats().tiers[0].write_failures, 0);
  std::string why;
  ASSERT_TRUE(server->Restart(&why)) << why;  // a fresh, empty server on the same port
  ASSERT_TRUE(redis->WaitConnected(5000));
  for (int i = 0; i < 4; ++i) tm.OnEvicted(chain.Block(i));
  tm.Flush();
  EXPECT_EQ(RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.size(), 4u);
}

TEST(RedisTierTest, FlippedTruncatedAndForeignEntriesAreDetectedAndDeleted) {
  START_REDIS(server, "");
  auto redis = Connect(server->url());
  TierManager tm({.tiers = {{redis.get(), true}}});
  BlockChain chain(3, 4);
  std::string e0 = EncodeEntry(chain.metas[0], chain.kv[0], {}).value();
  e0[e0.size() - 100] ^= 0x01;
  ASSERT_TRUE(redis->Put(chain.metas[0].id, AsBytes(e0)).ok());
  RestoredChain r = RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
  EXPECT_TRUE(r.blocks.empty());
  EXPECT_EQ(RedisInteger(server->port(), "EXISTS", "skv:kv:" + chain.metas[0].id.ToHex()), 0);

  std::string e1 = EncodeEntry(chain.metas[0], chain.kv[0], {}).value();
  ASSERT_TRUE(redis->Put(chain.metas[0].id, AsBytes(std::string_view(e1).substr(0, e1.size() / 2))).ok());
  EXPECT_TRUE(RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.empty());

  BlockChain foreign(1, 4);
  foreign.metas[0].namespace_id = Hash128{1, 1};
  std::string e2 = EncodeEntry(foreign.metas[0], foreign.kv[0], {}).value();
  ASSERT_TRUE(redis->Put(chain.metas[0].id, AsBytes(e2)).ok());
  EXPECT_TRUE(RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.empty());
  EXPECT_EQ(tm.stats().tiers[0].corrupt_dropped, 3);
}

TEST(RedisTierTest, MaxmemoryLruEvictsOldEntriesAndWritesKeepSucceeding) {
  START_REDIS(server, "--maxmemory 4mb --maxmemory-policy allkeys-lru");
  auto redis = Connect(server->url());
  TierManager tm({.tiers = {{redis.get(), true}}});
  BlockChain chain(60, 5);  // ~60 x 150 KiB >> 4 MiB
  for (int i = 0; i < 60; ++i) {
    tm.OnEvicted(chain.Block(i));
    tm.Flush();
  }
  EXPECT_EQ(tm.stats().tiers[0].write_failures, 0);
  EXPECT_EQ(tm.stats().tiers[0].written, 60);
  EXPECT_FALSE(redis->Contains(chain.metas[0].id).value());
  EXPECT_TRUE(redis->Contains(chain.metas[59].id).value());
  // The head of the chain is gone, so nothing restores from the start: recompute, never a hole.
  EXPECT_TRUE(RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.empty());
}

TEST(RedisTierTest, TwoProcessesShareOneRedis) {
  START_REDIS(server, "");
  BlockChain chain(5, 6);
  const std::string url = server->url();
  pid_t child = testing::RunChild([&] {
    auto redis = Connect(url);
    TierManager writer({.tiers = {{redis.get(), true}}});
    for (int i = 0; i < 5; ++i) writer.OnEvicted(chain.Block(i));
    writer.Flush();
    return writer.stats().tiers[0].written == 5 ? 0 : 3;
  });
  ASSERT_EQ(testing::WaitChild(child), 0);
  auto redis = Connect(url);
  TierManager reader({.tiers = {{redis.get(), false}}});
  RestoredChain r = RestoreAll(reader, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
  ASSERT_EQ(r.blocks.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(r.blocks[i].kv_bytes, chain.kv[i]);
}

}  // namespace
}  // namespace swarmkv
