// RedisBackend: a TierBackend over one Redis server (hiredis), shared by every swarmkv that points
// at it.
//
// One key per block: "<prefix><32 hex digits>" holding the same entry bytes as the disk tier, so
// keys spread over Redis Cluster slots. Eviction is Redis' own (maxmemory + an LRU policy); an
// optional TTL is set on every write.
//
// Availability: a lost or refused connection turns every call into Unavailable at once (the
// caller counts a miss and recomputes); a background thread reconnects with exponential backoff
// (backoff_min_ms doubling to backoff_max_ms) and calls succeed again once it is back. Connect and
// command timeouts bound how long any call can wait on a slow server.
//
// TLS: a rediss:// URL connects every node over TLS (redis_tls.h: OpenSSL on hiredis' socket,
// hiredis still speaking the protocol), verifying the server's certificate and name unless
// options.tls.insecure; a bad CA/certificate/key file fails Open, a refused certificate or
// handshake is a connect error like any other (the tier is down and keeps retrying).
//
// Redis Cluster (redis_cluster.h): when the server named by the URL answers CLUSTER SLOTS, the
// backend routes each key to its slot's master through one connection per node, follows MOVED
// (the slot map is patched, and refreshed from CLUSTER SLOTS at most once a second) and ASK
// (ASKING, then the command, once) redirects — at most kMaxRedirects per call, then Unavailable.
// A node that cannot be reached is skipped for a backoff (backoff_min_ms doubling to
// backoff_max_ms): its keys read as misses and its writes fail fast, while the other nodes serve.
// Cluster mode has only database 0.
//
// Thread-safety: all methods are thread-safe. Connections guarded by one mutex: calls are
// serialised (Redis is single-threaded anyway); each waits at most command_timeout_ms per hop.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <map>
#include <thread>
#include <vector>

#include "tiers/redis_cluster.h"
#include "tiers/redis_connection.h"
#include "tiers/redis_tls.h"
#include "tiers/tier_backend.h"

struct redisReply;

namespace swarmkv {

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string username;  // Redis 6 ACL user; empty: AUTH with the password alone
  std::string password;  // empty: no AUTH
  bool tls = false;      // rediss://
};

// Parses "redis[s]://[[user]:password@]host[:port][/db]" (user and password %-decoded; rediss: TLS).
// InvalidArgument for anything malformed.
Result<RedisAddress> ParseRedisUrl(std::string_view url);
// The URL with its password replaced by "***", for logs and error messages.
std::string RedactRedisUrl(std::string_view url);

struct RedisBackendOptions {
  std::string url = "redis://127.0.0.1:6379/0";
  std::string key_prefix = "skv:kv:";
  int64_t ttl_seconds = 0;  // 0: no TTL (Redis' maxmemory policy evicts)
  int connect_timeout_ms = 200;
  int command_timeout_ms = 500;
  int backoff_min_ms = 50;
  int backoff_max_ms = 5000;
  int tls_handshake_timeout_ms = 1000;  // rediss:// only, after the TCP connect
  // A longer reply is refused (the connection dropped) before it is all in memory: a server
  // cannot make us allocate what it claims. The disk tier's max_entry_bytes.
  uint64_t max_reply_bytes = 256ull << 20;
  RedisTlsOptions tls;                  // rediss:// only (InvalidArgument with redis://)
};

class RedisBackend final : public TierBackend {
 public:
  // InvalidArgument for a bad URL or TLS file. A server that is down (or refuses the handshake)
  // is NOT an error: the backend starts disconnected and keeps trying in the background.
  static Result<std::unique_ptr<RedisBackend>> Open(RedisBackendOptions options);
  ~RedisBackend() override;

  std::string_view name() const override { return "redis"; }
  Status Put(const Hash128& key, std::span<const uint8_t> bytes) override;
  Result<std::optional<std::string>> Get(const Hash128& key) override;
  // GET straight from the reply into `out` (one copy fewer than Get).
  Result<bool> GetInto(const Hash128& key, ReadBuffer* out) override;
  Result<bool> Contains(const Hash128& key) override;
  Status Erase(const Hash128& key) override;
  TierBackendStats stats() const override;
  std::string DebugString() const override;

  bool connected() const;
  // Why the last connection attempt or call failed ("" when none has).
  std::string last_error() const;
  // True once the server answered CLUSTER SLOTS (cluster mode).
  bool cluster() const;
  int64_t redirects() const;  // MOVED/ASK replies followed
  static constexpr int kMaxRedirects = 5;
  // Blocks until connected or `timeout_ms` passed; true when connected (tests, start-up).
  bool WaitConnected(int timeout_ms);
  int64_t reconnects() const;

 private:
  RedisBackend(RedisBackendOptions options, RedisAddress address, std::unique_ptr<RedisTlsContext> tls);
  std::string KeyFor(const Hash128& key) const;
  // REQUIRES: mu_ held. Drops the connection after an I/O error and wakes the reconnect thread.
  Status DisconnectLocked(std::string_view what);
  void ReconnectLoop();
  // Returns a ready connection (AUTH, PING, SELECT done) or nullptr with `*error` set (no lock
  // held: connecting may take connect_timeout_ms plus, over TLS, tls_handshake_timeout_ms).
  std::unique_ptr<RedisConnection> Connect(std::string* error) const;
  std::unique_ptr<RedisConnection> ConnectTo(const std::string& host, int port, bool select_db,
                                             std::string* error) const;
  // REQUIRES: mu_ held. Runs `argv` (argv[1] is the key): on the one server, or on the key's
  // cluster node following redirects. A lost connection is Unavailable (and reconnects).
  using ReplyPtr = RedisConnection::ReplyPtr;
  Result<ReplyPtr> RunLocked(const std::vector<std::string_view>& argv);
  Result<ReplyPtr> RunClusterLocked(const std::vector<std::string_view>& argv);
  // REQUIRES: mu_ held. Cluster mode when `c` answers CLUSTER SLOTS (its map is then loaded).
  void DetectClusterLocked(RedisConnection* c);
  void MaybeRefreshSlotsLocked();
  // REQUIRES: mu_ held. The node's connection (connecting when its backoff allows), or Unavailable.
  Result<RedisConnection*> NodeLocked(const RedisNodeAddress& node);
  void DropNodeLocked(const RedisNodeAddress& node);

  // Constant after construction.
  const RedisBackendOptions options_;
  const RedisAddress address_;
  const std::unique_ptr<RedisTlsContext> tls_;  // rediss:// only

  // State below is protected by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<RedisConnection> ctx_;
  bool shutting_down_ = false;
  std::string last_error_;
  int64_t reconnects_ = 0;
  TierBackendStats counters_;
  // Cluster mode (guarded by mu_).
  struct NodeConnection {
    std::unique_ptr<RedisConnection> ctx;
    int64_t down_until_ns = 0;  // no connect attempt before (steady clock)
    int backoff_ms = 0;
  };
  bool cluster_ = false;
  RedisSlotMap slots_;
  std::map<std::string, NodeConnection> nodes_;  // by "host:port"
  bool refresh_due_ = false;
  int64_t last_refresh_ns_ = 0;
  int64_t redirects_ = 0;

  std::thread reconnect_thread_;
};

}  // namespace swarmkv
