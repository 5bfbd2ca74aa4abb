// The Redis tier over TLS (rediss://) against a real redis-server with --tls-port on loopback,
// with a throwaway CA and certificates made by the openssl CLI at test time (test_pki.h):
// entries round-trip bit-exactly (CA as a file and as a rehashed directory, verified by IP and by
// DNS name); a wrong CA, a certificate for another name, a missing or foreign client certificate
// under mutual TLS, a plain client on the TLS port and a TLS client on the plain port are all
// clear connect errors within a bounded time, never a hang; bad TLS files stop start-up; a
// server killed and restarted is reconnected over TLS; bytes read over TLS are still checked
// (a corrupt entry is dropped, an oversized reply refused as on plain TCP); and a 3-master Redis
// Cluster with tls-cluster yes.
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "base/sysinfo.h"
#include "fault_test_util.h"
#include "redis_server.h"
#include "test_pki.h"
#include "tiers/redis_backend.h"
#include "tiers/restore_all.h"

namespace swarmkv {
namespace {

using testing::BlockChain;
using testing::kFaultNs;
using testing::RedisServer;
using testing::TestPki;

// The PKI is made once per test binary (a fraction of a second of openssl).
const TestPki* Pki(std::string* why) {
  static std::string make_why;
  static const std::optional<TestPki> pki = TestPki::Make(&make_why);
  *why = make_why;
  return pki ? &*pki : nullptr;
}

#define REQUIRE_PKI(var)                 \
  std::string why_##var;                 \
  const TestPki* var = Pki(&why_##var);  \
  if (var == nullptr) GTEST_SKIP() << "no test certificates: " << why_##var

#define START_TLS_REDIS(var, tls_args, extra)                          \
  std::string why_##var;                                               \
  auto var = RedisServer::StartTls(&why_##var, tls_args, extra);       \
  if (!var) GTEST_SKIP() << "no TLS redis-server for this test: " << why_##var

RedisBackendOptions Options(const std::string& url, RedisTlsOptions tls = {}) {
  RedisBackendOptions o;
  o.url = url;
  o.tls = std::move(tls);
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 200;
  return o;
}

std::unique_ptr<RedisBackend> Open(const std::string& url, RedisTlsOptions tls = {}) {
  return RedisBackend::Open(Options(url, std::move(tls))).value();
}

double SecondsSince(int64_t start_ns) { return static_cast<double>(MonotonicNanos() - start_ns) * 1e-9; }

// Stores `n` blocks through `backend` and restores them through it; expects all back bit-exact.
void ExpectRoundTrip(RedisBackend* backend, int n, uint64_t seed) {
  BlockChain chain(n, seed);
  TierManager tm({.tiers = {{backend, true}}});
  for (int i = 0; i < n; ++i) tm.OnEvicted(chain.Block(i));
  tm.Flush();
  EXPECT_EQ(tm.stats().tiers[0].write_failures, 0);
  RestoredChain r = RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
  ASSERT_EQ(r.blocks.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(r.blocks[i].kv_bytes, chain.kv[i]) << i;
}

long long PlainDbSize(int port, int db) {
  redisContext* c = redisConnect("127.0.0.1", port);
  freeReplyObject(redisCommand(c, "SELECT %d", db));
  auto* r = static_cast<redisReply*>(redisCommand(c, "DBSIZE"));
  const long long n = r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  if (r) freeReplyObject(r);
  redisFree(c);
  return n;
}

TEST(RedisTlsTierTest, EntriesRoundTripOverTlsByIpAndByName) {
  REQUIRE_PKI(pki);
  START_TLS_REDIS(server, pki->RedisServerArgs(pki->server_cert, pki->server_key, false), "");
  // By IP (the certificate's IP SAN), CA as a PEM file, database 2.
  auto by_ip = Open(server->tls_url("127.0.0.1", 2), {.ca_path = pki->ca_cert});
  ASSERT_TRUE(by_ip->connected()) << by_ip->last_error();
  ExpectRoundTrip(by_ip.get(), 6, 11);
  EXPECT_EQ(PlainDbSize(server->port(), 2), 6);  // the same server, the selected database
  // By DNS name (SNI + name check), CA as a rehashed directory.
  auto by_name = Open(server->tls_url("localhost", 0), {.ca_path = pki->ca_dir});
  ASSERT_TRUE(by_name->connected()) << by_name->last_error();
  ExpectRoundTrip(by_name.get(), 3, 12);
  // One large value: many TLS records per reply.
  std::string big(5 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 2654435761u >> 13);
  const Hash128 id{0xB16, 0x5};
  ASSERT_TRUE(by_name->Put(id, AsBytes(big)).ok());
  auto got = by_name->Get(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_TRUE(**got == big);
  EXPECT_TRUE(by_name->Contains(id).value());
  ASSERT_TRUE(by_name->Erase(id).ok());
  EXPECT_FALSE(by_name->Contains(id).value());
}

TEST(RedisTlsTierTest, BytesReadOverTlsAreStillChecked) {
  REQUIRE_PKI(pki);
  START_TLS_REDIS(server, pki->RedisServerArgs(pki->server_cert, pki->server_key, false), "");
  auto redis = Open(server->tls_url(), {.ca_path = pki->ca_cert});
  ASSERT_TRUE(redis->connected()) << redis->last_error();
  TierManager tm({.tiers = {{redis.get(), true}}});
  BlockChain chain(1, 13);
  std::string entry = EncodeEntry(chain.metas[0], chain.kv[0], {}).value();
  entry[entry.size() / 2] ^= 0x10;
  ASSERT_TRUE(redis->Put(chain.metas[0].id, AsBytes(entry)).ok());
  EXPECT_TRUE(RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.empty());
  EXPECT_EQ(tm.stats().tiers[0].corrupt_dropped, 1);
  EXPECT_FALSE(redis->Contains(chain.metas[0].id).value());  // deleted as on plain TCP
}

TEST(RedisTlsTierTest, WrongCaIsAClearConnectErrorAndTheTierStaysDown) {
  REQUIRE_PKI(pki);
  START_TLS_REDIS(server, pki->RedisServerArgs(pki->server_cert, pki->server_key, false), "");
  const int64_t start = MonotonicNanos();
  auto redis = Open(server->tls_url(), {.ca_path = pki->other_ca_cert});
  EXPECT_FALSE(redis->connected());
  const std::string e = redis->last_error();
  EXPECT_NE(e.find("certificate"), std::string::npos) << e;
  EXPECT_NE(e.find("--redis-tls-ca"), std::string::npos) << e;
  // Calls fail fast while it retries in the background; nothing was written.
  auto put = redis->Put(Hash128{1, 2}, std::vector<uint8_t>(10));
  EXPECT_EQ(put.code(), StatusCode::kUnavailable) << put.ToString();
  EXPECT_EQ(redis->Get(Hash128{1, 2}).status().code(), StatusCode::kUnavailable);
  EXPECT_LT(SecondsSince(start), 3.0);
  EXPECT_EQ(PlainDbSize(server->port(), 0), 0);
  // No CA at all: the system store does not know the test CA either.
  auto system_store = Open(server->tls_url());
  EXPECT_FALSE(system_store->connected());
  EXPECT_NE(system_store->last_error().find("certificate"), std::string::npos) << system_store->last_error();
}

TEST(RedisTlsTierTest, HostnameMismatchIsRefusedUnlessNamedOrInsecure) {
  REQUIRE_PKI(pki);
  START_TLS_REDIS(server, pki->RedisServerArgs(pki->wrong_name_cert, pki->wrong_name_key, false), "");
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto redis = Open(server->tls_url(host), {.ca_path = pki->ca_cert});
    EXPECT_FALSE(redis->connected()) << host;
    const std::string e = redis->last_error();
    EXPECT_NE(e.find("mismatch"), std::string::npos) << e;
    EXPECT_NE(e.find("--redis-tls-server-name"), std::string::npos) << e;
  }
  // The name the certificate carries, given explicitly: verified and accepted.
  auto named = Open(server->tls_url(), {.ca_path = pki->ca_cert, .server_name = "elsewhere.test"});
  ASSERT_TRUE(named->connected()) << named->last_error();
  ExpectRoundTrip(named.get(), 2, 14);
  // A name it does not carry is still refused.
  auto other = Open(server->tls_url(), {.ca_path = pki->ca_cert, .server_name = "redis.example"});
  EXPECT_FALSE(other->connected());
  // --redis-tls-insecure: no verification at all (not even the CA).
  auto insecure = Open(server->tls_url(), {.ca_path = pki->other_ca_cert, .insecure = true});
  ASSERT_TRUE(insecure->connected()) << insecure->last_error();
  ExpectRoundTrip(insecure.get(), 2, 15);
}

TEST(RedisTlsTierTest, MutualTlsNeedsTheClientCertificate) {
  REQUIRE_PKI(pki);
  START_TLS_REDIS(server, pki->RedisServerArgs(pki->server_cert, pki->server_key, /*require_client_cert=*/true), "");
  auto with_cert = Open(server->tls_url(),
                        {.ca_path = pki->ca_cert, .cert_file = pki->client_cert, .key_file = pki->client_key});
  ASSERT_TRUE(with_cert->connected()) << with_cert->last_error();
  ExpectRoundTrip(with_cert.get(), 3, 16);

  const int64_t start = MonotonicNanos();
  auto without = Open(server->tls_url(), {.ca_path = pki->ca_cert});
  EXPECT_FALSE(without->connected());
  EXPECT_NE(without->last_error().find("client certificate"), std::string::npos) << without->last_error();
  EXPECT_NE(without->last_error().find("--redis-tls-cert"), std::string::npos) << without->last_error();
  EXPECT_EQ(without->Get(Hash128{3, 4}).status().code(), StatusCode::kUnavailable);

  auto rogue = Open(server->tls_url(),
                    {.ca_path = pki->ca_cert, .cert_file = pki->rogue_client_cert, .key_file = pki->rogue_client_key});
  EXPECT_FALSE(rogue->connected());
  EXPECT_FALSE(rogue->last_error().empty());
  EXPECT_LT(SecondsSince(start), 4.0);
}

TEST(RedisTlsTierTest, PlainAndTlsPortMixUpsFailFastWithTheReason) {
  REQUIRE_PKI(pki);
  START_TLS_REDIS(server, pki->RedisServerArgs(pki->server_cert, pki->server_key, false), "");
  // A plain client on the TLS port: the server drops it at once.
  int64_t start = MonotonicNanos();
  auto plain_on_tls = Open("redis://127.0.0.1:" + std::to_string(server->tls_port()) + "/0");
  EXPECT_FALSE(plain_on_tls->connected());
  EXPECT_NE(plain_on_tls->last_error().find("rediss://"), std::string::npos) << plain_on_tls->last_error();
  EXPECT_LT(SecondsSince(start), 2.0);
  // A TLS client on the plain port: Redis waits for a line that never comes; the handshake
  // times out (tls_handshake_timeout_ms), it does not hang.
  start = MonotonicNanos();
  RedisBackendOptions o = Options("rediss://127.0.0.1:" + std::to_string(server->port()) + "/0", {.ca_path = pki->ca_cert});
  o.tls_handshake_timeout_ms = 300;
  auto tls_on_plain = RedisBackend::Open(o).value();
  EXPECT_FALSE(tls_on_plain->connected());
  EXPECT_NE(tls_on_plain->last_error().find("TLS port"), std::string::npos) << tls_on_plain->last_error();
  EXPECT_LT(SecondsSince(start), 2.0);
  start = MonotonicNanos();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(tls_on_plain->Get(Hash128{5, 6}).status().code(), StatusCode::kUnavailable);
  EXPECT_LT(SecondsSince(start), 0.5);  // calls never wait on the reconnect attempts
}

TEST(RedisTlsTierTest, KilledAndRestartedServerIsReconnectedOverTls) {
  REQUIRE_PKI(pki);
  START_TLS_REDIS(server, pki->RedisServerArgs(pki->server_cert, pki->server_key, false), "");
  auto redis = Open(server->tls_url(), {.ca_path = pki->ca_cert});
  ASSERT_TRUE(redis->connected()) << redis->last_error();
  TierManager tm({.tiers = {{redis.get(), true}}});
  BlockChain chain(3, 17);
  for (int i = 0; i < 3; ++i) tm.OnEvicted(chain.Block(i));
  tm.Flush();
  server->Kill();
  const int64_t start = MonotonicNanos();
  EXPECT_TRUE(RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout).blocks.empty());
  EXPECT_LT(SecondsSince(start), 2.0);
  EXPECT_FALSE(redis->connected());
  std::string why;
  ASSERT_TRUE(server->Restart(&why)) << why;
  ASSERT_TRUE(redis->WaitConnected(5000)) << redis->last_error();
  EXPECT_GE(redis->reconnects(), 1);
  ExpectRoundTrip(redis.get(), 3, 18);
}

// A reply longer than max_reply_bytes is refused while it arrives (its bytes are never all held),
// on plain TCP and over TLS alike; the connection is dropped and comes back for the next call.
TEST(RedisTlsTierTest, OversizedRepliesAreRefusedOverPlainAndTls) {
  REQUIRE_PKI(pki);
  START_TLS_REDIS(server, pki->RedisServerArgs(pki->server_cert, pki->server_key, false), "");
  for (const bool tls : {false, true}) {
    RedisBackendOptions o = tls ? Options(server->tls_url(), {.ca_path = pki->ca_cert}) : Options(server->url());
    o.max_reply_bytes = 1 << 20;
    auto redis = RedisBackend::Open(o).value();
    ASSERT_TRUE(redis->connected()) << redis->last_error();
    const Hash128 big_id{0xB16, tls ? 1u : 2u}, small_id{0x5A, tls ? 1u : 2u};
    ASSERT_TRUE(redis->Put(big_id, std::vector<uint8_t>(3 << 20, 7)).ok());  // the SET reply is small
    ASSERT_TRUE(redis->Put(small_id, std::vector<uint8_t>(100 << 10, 9)).ok());
    auto big = redis->Get(big_id);
    EXPECT_EQ(big.status().code(), StatusCode::kUnavailable) << (tls ? "tls" : "plain");
    EXPECT_NE(big.status().message().find("max_reply_bytes"), std::string::npos) << big.status().message();
    ASSERT_TRUE(redis->WaitConnected(5000)) << redis->last_error();
    auto small = redis->Get(small_id);
    ASSERT_TRUE(small.ok()) << small.status().ToString();
    ASSERT_TRUE(small->has_value());
    EXPECT_EQ((*small)->size(), size_t{100 << 10});
  }
}

TEST(RedisTlsOptionsTest, BadTlsFilesAndMisplacedFlagsStopStartUp) {
  REQUIRE_PKI(pki);
  const std::string url = "rediss://127.0.0.1:1/0";  // nothing listens: only the files are judged
  auto code_and_message = [&](const std::string& u, RedisTlsOptions tls) {
    auto r = RedisBackend::Open(Options(u, std::move(tls)));
    return r.ok() ? std::make_pair(StatusCode::kOk, std::string()) : std::make_pair(r.status().code(), r.status().message());
  };
  const std::string not_pem = pki->dir + "/not-a-certificate.txt";
  std::ofstream(not_pem) << "hello\n";
  const std::string empty_dir = pki->dir + "/empty-ca-dir";
  ASSERT_EQ(std::system(("mkdir -p '" + empty_dir + "'").c_str()), 0);
  struct Case {
    RedisTlsOptions tls;
    const char* flag;
  };
  const Case cases[] = {
      {{.ca_path = pki->dir + "/missing.crt"}, "--redis-tls-ca"},
      {{.ca_path = not_pem}, "--redis-tls-ca"},
      {{.ca_path = empty_dir}, "rehash"},
      {{.ca_path = pki->ca_cert, .cert_file = pki->client_cert}, "--redis-tls-key"},
      {{.ca_path = pki->ca_cert, .cert_file = not_pem, .key_file = pki->client_key}, "--redis-tls-cert"},
      {{.ca_path = pki->ca_cert, .cert_file = pki->client_cert, .key_file = pki->server_key}, "does not match"},
      // Refused, never a passphrase prompt on the terminal.
      {{.ca_path = pki->ca_cert, .cert_file = pki->client_cert, .key_file = pki->encrypted_client_key}, "unencrypted"},
  };
  for (const Case& c : cases) {
    auto [code, message] = code_and_message(url, c.tls);
    EXPECT_EQ(code, StatusCode::kInvalidArgument) << c.flag;
    EXPECT_NE(message.find(c.flag), std::string::npos) << message;
  }
  // TLS flags with a plain URL are an error, not silently ignored.
  auto [code, message] = code_and_message("redis://127.0.0.1:1/0", {.insecure = true});
  EXPECT_EQ(code, StatusCode::kInvalidArgument);
  EXPECT_NE(message.find("rediss://"), std::string::npos) << message;
  // Good files: starts (disconnected: nothing listens on port 1).
  EXPECT_EQ(code_and_message(url, {.ca_path = pki->ca_dir, .cert_file = pki->client_cert, .key_file = pki->client_key})
                .first,
            StatusCode::kOk);
}

using testing::AwaitClusterOk;
using testing::FreeLoopbackPort;
// One admin command on a node's plain port; the reply as text ("" on no reply).
constexpr auto& PlainCmd = testing::RedisCommandText;

// Three masters with the cluster bus over TLS (tls-cluster yes), each also on a plain port for
// these admin commands. CLUSTER SLOTS asked over TLS answers the nodes' TLS ports, so the tier
// reaches every node over TLS, checking each one's certificate against its announced 127.0.0.1.
TEST(RedisTlsClusterTest, ThreeMastersOverTlsAndANodeDown) {
  REQUIRE_PKI(pki);
  std::vector<std::unique_ptr<RedisServer>> nodes;
  std::vector<int> bus_ports;
  for (int i = 0; i < 3; ++i) {
    bus_ports.push_back(FreeLoopbackPort());
    std::string why;
    auto s = RedisServer::StartTls(&why, pki->RedisServerArgs(pki->server_cert, pki->server_key, false),
                                   "--tls-cluster yes --cluster-enabled yes --cluster-config-file nodes.conf "
                                   "--cluster-node-timeout 1000 --cluster-require-full-coverage no --cluster-port " +
                                       std::to_string(bus_ports.back()));
    if (!s) GTEST_SKIP() << "no TLS cluster node for this test: " << why;
    nodes.push_back(std::move(s));
  }
  const char* ranges[3][2] = {{"0", "5460"}, {"5461", "10922"}, {"10923", "16383"}};
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(PlainCmd(nodes[i]->port(), {"CLUSTER", "ADDSLOTSRANGE", ranges[i][0], ranges[i][1]}), "OK");
  for (int i = 1; i < 3; ++i)
    ASSERT_EQ(PlainCmd(nodes[i]->port(), {"CLUSTER", "MEET", "127.0.0.1", std::to_string(nodes[0]->tls_port()),
                                          std::to_string(bus_ports[0])}),
              "OK");
  std::string why;
  ASSERT_TRUE(AwaitClusterOk({nodes[0]->port(), nodes[1]->port(), nodes[2]->port()}, &why)) << "TLS cluster: " << why;

  RedisTlsOptions tls{.ca_path = pki->ca_cert};
  auto writer = Open(nodes[0]->tls_url(), tls);
  ASSERT_TRUE(writer->connected()) << writer->last_error();
  ASSERT_TRUE(writer->cluster());
  BlockChain chain(24, 19);
  {
    TierManager tm({.tiers = {{writer.get(), true}}});
    for (int i = 0; i < 24; ++i) tm.OnEvicted(chain.Block(i));
    tm.Flush();
    EXPECT_EQ(tm.stats().tiers[0].written, 24);
    EXPECT_EQ(tm.stats().tiers[0].write_failures, 0);
  }
  for (int i = 0; i < 3; ++i) EXPECT_GT(std::stoll(PlainCmd(nodes[i]->port(), {"DBSIZE"})), 0) << "node " << i;
  auto reader = Open(nodes[1]->tls_url(), tls);
  ASSERT_TRUE(reader->cluster()) << reader->last_error();
  {
    TierManager tm({.tiers = {{reader.get(), false}}});
    RestoredChain r = RestoreAll(tm, kFaultNs, Hash128{}, chain.Ids(), chain.layout);
    ASSERT_EQ(r.blocks.size(), 24u);
    for (int i = 0; i < 24; ++i) EXPECT_EQ(r.blocks[i].kv_bytes, chain.kv[i]) << i;
  }
  // One master killed: its keys are misses, the others still answer over TLS, in bounded time.
  nodes[2]->Kill();
  int found = 0;
  const int64_t start = MonotonicNanos();
  for (int i = 0; i < 24; ++i) {
    auto got = reader->Get(chain.metas[i].id);
    found += got.ok() && got->has_value();
  }
  EXPECT_GT(found, 0);
  EXPECT_LT(found, 24);
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_TRUE(reader->stats().available);
}

}  // namespace
}  // namespace swarmkv
