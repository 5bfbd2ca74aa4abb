// The Redis tier against a real 3-node Redis Cluster (redis-server --cluster-enabled yes on
// loopback ports, joined by redis-cli --cluster create): blocks are stored on all three masters
// and restored bit-exactly through a backend seeded at another node; a slot migrated under a
// client with a stale map is followed (ASK while migrating, MOVED after); one master killed:
// its keys are misses and its writes fail fast, the others keep serving, nothing throws.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "fault_test_util.h"
#include "redis_server.h"
#include "tiers/restore_all.h"
#include "tiers/redis_backend.h"
#include "tiers/redis_cluster.h"

namespace swarmkv {
namespace {

using testing::BlockChain;
using testing::kFaultNs;

using testing::FreeLoopbackPort;

// One command on one node; the reply as text ("" on no reply), integers in decimal.
constexpr auto& Cmd = testing::RedisCommandText;

struct Cluster {
  std::vector<std::unique_ptr<testing::RedisServer>> nodes;
  std::string why;
  int port(int i) const { return nodes[static_cast<size_t>(i)]->port(); }
  // The node (index) owning `slot`, as a live node's CLUSTER NODES says; -1 when none says.
  int Owner(uint16_t slot) const {
    for (int i = 0; i < 3; ++i) {
      if (!nodes[static_cast<size_t>(i)]->running()) continue;
      const std::string text = Cmd(port(i), {"CLUSTER", "NODES"});
      if (text.empty()) continue;
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        std::istringstream in(line);
        std::vector<std::string> f;
        for (std::string x; in >> x;) f.push_back(x);
        if (f.size() < 9) continue;
        const int node_port = std::stoi(f[1].substr(f[1].rfind(':') + 1));  // "ip:port@bus"
        for (size_t k = 8; k < f.size(); ++k) {
          if (f[k][0] == '[') continue;  // a slot being migrated or imported
          const size_t dash = f[k].find('-');
          const int lo = std::stoi(f[k].substr(0, dash));
          const int hi = dash == std::string::npos ? lo : std::stoi(f[k].substr(dash + 1));
          if (slot < lo || slot > hi) continue;
          for (int j = 0; j < 3; ++j)
            if (port(j) == node_port) return j;
        }
      }
      return -1;
    }
    return -1;
  }
};

// Starts three cluster-enabled servers and joins them; nullptr-like (empty nodes) with `why`.
Cluster StartCluster() {
  Cluster c;
  if (std::system("command -v redis-cli >/dev/null 2>&1") != 0) {
    c.why = "redis-cli is not installed";
    return c;
  }
  for (int i = 0; i < 3; ++i) {
    // The cluster bus port is given explicitly: port + 10000 may be past 65535 for a free port.
    auto s = testing::RedisServer::Start(&c.why, "--cluster-enabled yes --cluster-config-file nodes.conf "
                                                  "--cluster-node-timeout 1000 --cluster-require-full-coverage no "
                                                  "--cluster-port " + std::to_string(FreeLoopbackPort()));
    if (!s) {
      c.nodes.clear();
      return c;
    }
    c.nodes.push_back(std::move(s));
  }
  std::string cmd = "redis-cli --cluster create";
  for (int i = 0; i < 3; ++i) cmd += " 127.0.0.1:" + std::to_string(c.port(i));
  cmd += " --cluster-yes >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    c.why = "redis-cli --cluster create failed";
    c.nodes.clear();
    return c;
  }
  // Every node must see the cluster as ok (slots covered, gossip converged).
  if (!testing::AwaitClusterOk({c.port(0), c.port(1), c.port(2)}, &c.why)) c.nodes.clear();
  return c;
}

std::unique_ptr<RedisBackend> Connect(int port) {
  RedisBackendOptions o;
  o.url = "redis://127.0.0.1:" + std::to_string(port);
  o.backoff_min_ms = 50;
  o.backoff_max_ms = 500;
  return RedisBackend::Open(o).value();
}

std::string KeyOf(const Hash128& id) { return "skv:kv:" + id.ToHex(); }

TEST(RedisClusterTierTest, ThreeMastersRedirectsAndANodeDown) {
  Cluster cluster = StartCluster();
  if (cluster.nodes.empty()) GTEST_SKIP() << "no Redis Cluster for this test: " << cluster.why;

  // Stored across all three masters.
  BlockChain chain(24, 77);
  auto writer_backend = Connect(cluster.port(0));
  ASSERT_TRUE(writer_backend->cluster());
  {
    TierManager writer({.tiers = {{writer_backend.get(), true}}});
    for (int i = 0; i < 24; ++i) writer.OnEvicted(chain.Block(i));
    writer.Flush();
    EXPECT_EQ(writer.stats().tiers[0].written, 24);
    EXPECT_EQ(writer.stats().tiers[0].write_failures, 0);
  }
  for (int i = 0; i < 3; ++i) EXPECT_GT(std::stoi(Cmd(cluster.port(i), {"DBSIZE"})), 0) << "node " << i;

  // Restored bit-exactly through a backend seeded at another node.
  auto reader_backend = Connect(cluster.port(1));
  ASSERT_TRUE(reader_backend->cluster());
  {
    TierManager reader({.tiers = {{reader_backend.get(), false}}});
    RestoredChain r = RestoreAll(reader, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
    ASSERT_EQ(r.blocks.size(), 24u);
    for (int i = 0; i < 24; ++i) EXPECT_EQ(r.blocks[i].kv_bytes, chain.kv[i]) << i;
  }

  // Migrate block 0's slot from its owner to another node under the reader's stale map.
  const std::string key0 = KeyOf(chain.metas[0].id);
  const uint16_t slot = RedisKeySlot(key0);
  const int src = cluster.Owner(slot);
  ASSERT_GE(src, 0);
  const int dst = (src + 1) % 3;
  const std::string src_id = Cmd(cluster.port(src), {"CLUSTER", "MYID"});
  const std::string dst_id = Cmd(cluster.port(dst), {"CLUSTER", "MYID"});
  ASSERT_EQ(Cmd(cluster.port(dst), {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", src_id}), "OK");
  ASSERT_EQ(Cmd(cluster.port(src), {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", dst_id}), "OK");
  // While migrating, a key the source does not hold is answered ASK: a new block of that slot.
  Hash128 fresh{1, 0};
  while (RedisKeySlot(KeyOf(fresh)) != slot) ++fresh.lo;
  const std::string payload = "a block written while its slot migrates";
  const int64_t redirects_before = reader_backend->redirects();
  ASSERT_TRUE(reader_backend->Put(fresh, std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size())).ok());
  EXPECT_GT(reader_backend->redirects(), redirects_before) << "ASK followed";
  // Not on the migrating source: it answers ASK for the key, pointing at the target.
  EXPECT_EQ(Cmd(cluster.port(src), {"EXISTS", KeyOf(fresh)}).rfind("ASK ", 0), 0u);
  // Move the slot's keys, then hand the slot over: the stale map meets MOVED.
  ASSERT_EQ(Cmd(cluster.port(src), {"MIGRATE", "127.0.0.1", std::to_string(cluster.port(dst)), "", "0", "5000", "KEYS", key0}), "OK");
  for (int i = 0; i < 3; ++i) Cmd(cluster.port(i), {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", dst_id});
  const int64_t redirects_moved = reader_backend->redirects();
  auto got = reader_backend->Get(chain.metas[0].id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_GT(reader_backend->redirects(), redirects_moved) << "MOVED followed";
  auto fresh_got = reader_backend->Get(fresh);
  ASSERT_TRUE(fresh_got.ok() && fresh_got->has_value());
  EXPECT_EQ(**fresh_got, payload);
  {
    TierManager reader({.tiers = {{reader_backend.get(), false}}});
    RestoredChain r = RestoreAll(reader, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
    ASSERT_EQ(r.blocks.size(), 24u);
    EXPECT_EQ(r.blocks[0].kv_bytes, chain.kv[0]);
  }

  // One master down: its keys are misses, its writes fail fast; the other masters serve.
  const int dead = (dst + 1) % 3;
  cluster.nodes[static_cast<size_t>(dead)]->Kill();
  int on_dead = 0, served = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 24; ++i) {
    const Hash128 id = chain.metas[i].id;
    auto has = reader_backend->Contains(id);
    const bool dead_slot = cluster.Owner(RedisKeySlot(KeyOf(id))) < 0 || cluster.Owner(RedisKeySlot(KeyOf(id))) == dead;
    if (dead_slot) {
      ++on_dead;
      EXPECT_FALSE(has.ok() && *has) << i;
      if (!has.ok()) EXPECT_EQ(has.status().code(), StatusCode::kUnavailable) << has.status().ToString();
    } else {
      ASSERT_TRUE(has.ok()) << i << ": " << has.status().ToString();
      EXPECT_TRUE(*has) << i;
      ++served;
    }
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3)) << "a down node is skipped, not waited on";
  EXPECT_GT(on_dead, 0);
  EXPECT_GT(served, 0);
  TierManager after({.tiers = {{reader_backend.get(), true}}});
  RestoredChain r = RestoreAll(after, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
  EXPECT_LT(r.blocks.size(), 24u) << "the chain ends at the first block of the dead node";
  for (size_t i = 0; i < r.blocks.size(); ++i) EXPECT_EQ(r.blocks[i].kv_bytes, chain.kv[i]) << i;
  BlockChain more(12, 500);
  for (int i = 0; i < 12; ++i) after.OnEvicted(more.Block(i));
  after.Flush();
  EXPECT_GT(after.stats().tiers[0].written, 0) << "writes to the live masters succeed";
  EXPECT_GT(after.stats().tiers[0].write_failures, 0) << "writes to the dead one fail (counted), nothing throws";
}

}  // namespace
}  // namespace swarmkv
