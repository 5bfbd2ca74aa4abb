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
// Thread-safety: all methods are thread-safe. One connection guarded by a mutex: calls to one
// server are serialised (Redis is single-threaded anyway); each waits at most command_timeout_ms.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "tiers/tier_backend.h"

struct redisContext;

namespace swarmkv {

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string username;  // Redis 6 ACL user; empty: AUTH with the password alone
  std::string password;  // empty: no AUTH
};

// Parses "redis://[[user]:password@]host[:port][/db]" (user and password %-decoded).
// "rediss://" (TLS) is Unimplemented: Debian 12's hiredis 0.14 has no TLS support. InvalidArgument
// for anything else malformed.
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
};

class RedisBackend final : public TierBackend {
 public:
  // InvalidArgument for a bad URL. A server that is down is NOT an error: the backend starts
  // disconnected and keeps trying in the background.
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
  // Blocks until connected or `timeout_ms` passed; true when connected (tests, start-up).
  bool WaitConnected(int timeout_ms);
  int64_t reconnects() const;

 private:
  explicit RedisBackend(RedisBackendOptions options, RedisAddress address);
  std::string KeyFor(const Hash128& key) const;
  // REQUIRES: mu_ held. Drops the connection after an I/O error and wakes the reconnect thread.
  Status DisconnectLocked(std::string_view what);
  void ReconnectLoop();
  // Returns a ready context or nullptr (no lock held: connecting may take connect_timeout_ms).
  redisContext* Connect(std::string* error) const;

  // Constant after construction.
  const RedisBackendOptions options_;
  const RedisAddress address_;

  // State below is protected by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  redisContext* ctx_ = nullptr;
  bool shutting_down_ = false;
  std::string last_error_;
  int64_t reconnects_ = 0;
  TierBackendStats counters_;

  std::thread reconnect_thread_;
};

}  // namespace swarmkv
