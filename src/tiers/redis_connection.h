// RedisConnection: one connection to one Redis node, plain TCP or TLS, as the Redis tier uses it:
// send a command, wait for its one reply.
//
//   plain  hiredis' blocking context as it comes (redisCommandArgv; connect and per-read/write
//          timeouts through redisConnectWithTimeout / redisSetTimeout)
//   TLS    hiredis connects the socket (within connect_timeout_ms), then a TlsStream
//          (redis_tls.h) runs the handshake on it (within tls_handshake_timeout_ms) and carries
//          the bytes; hiredis still formats the commands (redisFormatCommandArgv) and parses the
//          replies (the context's redisReader), so both transports yield the same redisReply
//          trees. Every wait for the socket is bounded by command_timeout_ms, as on plain TCP.
//
// On both, a reply is read chunk by chunk and refused once its unparsed bytes exceed
// max_reply_bytes: a hostile or broken server claiming a 4 GB value costs at most that much
// memory, not what it claims.
//
// Invariant: after Command returned nullptr (an I/O, timeout or protocol error) the connection is
// broken for good: every later Command returns nullptr at once; the owner drops it and reconnects.
// Thread-safety: none; one owner (the backend calls it under its mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

struct redisContext;
struct redisReply;

namespace swarmkv {

class RedisTlsContext;
class TlsStream;

struct RedisConnectOptions {
  int connect_timeout_ms = 200;
  int command_timeout_ms = 500;
  int tls_handshake_timeout_ms = 1000;
  uint64_t max_reply_bytes = 256ull << 20;  // as the disk tier's max_entry_bytes
  const RedisTlsContext* tls = nullptr;     // nullptr: plain TCP; else outlives the connection
};

class RedisConnection {
 public:
  using ReplyPtr = std::unique_ptr<::redisReply, void (*)(void*)>;

  // Unavailable with the reason (refused, timed out, TLS handshake or certificate error).
  static Result<std::unique_ptr<RedisConnection>> Open(const std::string& host, int port,
                                                       const RedisConnectOptions& options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // The reply (possibly a Redis error reply), or nullptr when none came: error() says why.
  ReplyPtr Command(const std::vector<std::string_view>& argv);
  const std::string& error() const { return error_; }
  bool tls() const { return tls_ != nullptr; }

 private:
  RedisConnection(redisContext* c, const RedisConnectOptions& o)
      : c_(c), command_timeout_ms_(o.command_timeout_ms), max_reply_bytes_(o.max_reply_bytes) {}
  ReplyPtr PlainCommand(const std::vector<std::string_view>& argv);
  ReplyPtr TlsCommand(const std::vector<std::string_view>& argv);
  ReplyPtr Fail(std::string why);
  bool ReplyTooLarge() const;

  redisContext* const c_;
  const int command_timeout_ms_;
  const uint64_t max_reply_bytes_;
  std::unique_ptr<TlsStream> tls_;
  bool broken_ = false;
  std::string error_;
};

}  // namespace swarmkv
