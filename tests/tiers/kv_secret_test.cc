// --kv-secret against untrusted neighbours of a shared tier, with real parts: a shared directory
// of real files written by another process, and a real redis-server. For each tier:
//   - a process with the secret writes a chain; another process with the same secret restores
//     it bit-exactly; one with another secret, or none, finds nothing and erases nothing;
//   - a forger without the secret rewrites every stored entry (it can list names and read the
//     block ids in the headers) with well-formed entries holding other KV: a reader with the
//     secret drops them all (mac_rejected) and restores nothing wrong; a reader without a secret,
//     over unsigned entries forged the same way, takes the forger's bytes — the trust the docs
//     ask for without --kv-secret (docs/security.md).
#include <hiredis/hiredis.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>

#include "base/env.h"
#include "base/testing.h"
#include "fault_test_util.h"
#include "redis_server.h"
#include "tiers/restore_all.h"
#include "tiers/disk_backend.h"
#include "tiers/entry_mac.h"
#include "tiers/redis_backend.h"

namespace swarmkv {
namespace {

using testing::BlockChain;
using testing::kFaultNs;

const std::string kSecret = "the shared secret of our servers";
const std::string kOtherSecret = "somebody else's secret, 32 bytes";

// One shared tier, opened afresh per "process" (each call gives a new backend on the same store).
struct SharedTier {
  std::string name;
  std::function<std::unique_ptr<TierBackend>()> open;
  // The forger: every stored entry replaced by make(old entry bytes) under the same name.
  std::function<int(const std::function<std::string(const std::string&)>&)> rewrite_all;
};

// A forged entry for the block an entry names: well-formed, checksums right, other KV.
std::string Forge(const std::string& entry, const BlockChain& chain) {
  Hash128 id{};
  if (entry.size() >= 48) std::memcpy(&id, entry.data() + 32, 16);  // the header's block id (LE lo, hi)
  for (size_t i = 0; i < chain.metas.size(); ++i) {
    if (chain.metas[i].id == id)
      return EncodeEntry(chain.metas[i], SyntheticKvBlock(chain.layout, 1000 + i), {}).value();
  }
  return entry;
}

SharedTier SharedDir(const std::string& dir) {
  SharedTier t;
  t.name = "shared dir";
  t.open = [dir] {
    DiskBackendOptions o;
    o.dir = dir;
    o.capacity_bytes = 256 << 20;
    o.name = "shared";
    return std::unique_ptr<TierBackend>(DiskBackend::Open(o).value());
  };
  t.rewrite_all = [dir](const std::function<std::string(const std::string&)>& make) {
    int n = 0;
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
      if (!f.is_regular_file() || f.path().extension() != ".skv") continue;
      std::string bytes = Env::Default()->ReadFile(f.path().string()).value();
      EXPECT_TRUE(Env::Default()->WriteFileAtomic(f.path().string(), make(bytes), false).ok());
      ++n;
    }
    return n;
  };
  return t;
}

SharedTier Redis(int port, const std::string& url) {
  SharedTier t;
  t.name = "redis";
  t.open = [url] {
    RedisBackendOptions o;
    o.url = url;
    return std::unique_ptr<TierBackend>(RedisBackend::Open(o).value());
  };
  t.rewrite_all = [port](const std::function<std::string(const std::string&)>& make) {
    redisContext* c = redisConnect("127.0.0.1", port);
    auto* keys = static_cast<redisReply*>(redisCommand(c, "KEYS skv:kv:*"));
    int n = 0;
    for (size_t i = 0; keys != nullptr && i < keys->elements; ++i) {
      const std::string key(keys->element[i]->str, keys->element[i]->len);
      auto* v = static_cast<redisReply*>(redisCommand(c, "GET %b", key.data(), key.size()));
      const std::string forged = make(std::string(v->str, v->len));
      freeReplyObject(v);
      freeReplyObject(redisCommand(c, "SET %b %b", key.data(), key.size(), forged.data(), forged.size()));
      ++n;
    }
    if (keys) freeReplyObject(keys);
    redisFree(c);
    return n;
  };
  return t;
}

std::shared_ptr<const EntryMacKey> Key(const std::string& secret) {
  return secret.empty() ? nullptr : EntryMacKey::FromSecret(secret).value();
}

// Writes the chain from a child process (another writer of the shared tier), with `secret`.
void WriteFromAnotherProcess(const SharedTier& tier, const BlockChain& chain, const std::string& secret) {
  pid_t child = testing::RunChild([&] {
    auto backend = tier.open();
    TierManager writer({.tiers = {{backend.get(), true}}, .mac = Key(secret)});
    for (size_t i = 0; i < chain.metas.size(); ++i) writer.OnEvicted(chain.Block(static_cast<int>(i)));
    writer.Flush();
    return writer.stats().tiers[0].written == static_cast<int64_t>(chain.metas.size()) ? 0 : 3;
  });
  ASSERT_EQ(testing::WaitChild(child), 0) << tier.name;
}

void CheckTier(const SharedTier& tier) {
  SCOPED_TRACE(tier.name);
  BlockChain chain(4, 21);
  WriteFromAnotherProcess(tier, chain, kSecret);
  auto backend = tier.open();
  {  // the same secret: bit-exact
    TierManager reader({.tiers = {{backend.get(), false}}, .mac = Key(kSecret)});
    RestoredChain r = RestoreAll(reader, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
    ASSERT_EQ(r.blocks.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r.blocks[i].kv_bytes, chain.kv[i]) << i;
  }
  for (const std::string& secret : {kOtherSecret, std::string()}) {  // another secret, or none: a miss
    TierManager reader({.tiers = {{backend.get(), false}}, .mac = Key(secret)});
    EXPECT_TRUE(RestoreAll(reader, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.empty()) << secret;
    EXPECT_EQ(reader.stats().tiers[0].mac_rejected + reader.stats().tiers[0].corrupt_dropped, 0) << "erased nothing";
  }
  // Forged by someone without the secret: every entry rewritten with other KV.
  EXPECT_EQ(tier.rewrite_all([&](const std::string& e) { return Forge(e, chain); }), 4);
  {
    TierManager reader({.tiers = {{backend.get(), false}}, .mac = Key(kSecret)});
    RestoredChain r = RestoreAll(reader, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
    EXPECT_TRUE(r.blocks.empty()) << "a forged block was restored";
    EXPECT_GE(reader.stats().tiers[0].mac_rejected, 1);
    EXPECT_EQ(reader.stats().tiers[0].corrupt_dropped, 0);
    EXPECT_FALSE(backend->Contains(Key(kSecret)->StorageKey(chain.metas[0].id)).value()) << "the forged head is deleted";
  }
  // Without a secret the same forgery (of unsigned entries) goes unnoticed: its checksums are right.
  BlockChain plain(4, 41);
  WriteFromAnotherProcess(tier, plain, "");
  EXPECT_GE(tier.rewrite_all([&](const std::string& e) { return Forge(e, plain); }), 4);
  TierManager trusting({.tiers = {{backend.get(), false}}});
  RestoredChain r = RestoreAll(trusting, kFaultNs, Hash128{}, plain.Ids(), plain.layout);
  ASSERT_EQ(r.blocks.size(), 4u);
  EXPECT_EQ(r.blocks[0].kv_bytes, SyntheticKvBlock(plain.layout, 1000)) << "the forger's bytes";
  EXPECT_NE(r.blocks[0].kv_bytes, plain.kv[0]);
}

TEST(KvSecretTest, ForgedEntriesInASharedDirectory) { CheckTier(SharedDir(testing::TempDir("kv-secret-shared"))); }

TEST(KvSecretTest, ForgedEntriesInRedis) {
  std::string why;
  auto server = testing::RedisServer::Start(&why);
  if (!server) GTEST_SKIP() << "no redis-server for this test: " << why;
  CheckTier(Redis(server->port(), server->url()));
}

}  // namespace
}  // namespace swarmkv
