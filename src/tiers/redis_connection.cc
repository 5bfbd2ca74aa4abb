#include "tiers/redis_connection.h"

#include <hiredis/hiredis.h>

#include "tiers/redis_tls.h"

namespace swarmkv {
namespace {

timeval Millis(int ms) { return timeval{ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)}; }

// TLS records carry at most 16 KiB; a few at once per read.
constexpr size_t kReadChunkBytes = 64 << 10;

}  // namespace

Result<std::unique_ptr<RedisConnection>> RedisConnection::Open(const std::string& host, int port,
                                                               const RedisConnectOptions& options) {
  const std::string where = host + ":" + std::to_string(port);
  redisContext* c = redisConnectWithTimeout(host.c_str(), port, Millis(options.connect_timeout_ms));
  if (c == nullptr) return UnavailableError(where + ": cannot allocate a redis context");
  if (c->err) {
    std::string e = c->errstr;
    redisFree(c);
    return UnavailableError(where + ": " + e);
  }
  std::unique_ptr<RedisConnection> conn(new RedisConnection(c, options));
  if (options.tls == nullptr) {
    redisSetTimeout(c, Millis(options.command_timeout_ms));
    return conn;
  }
  auto stream = TlsStream::Handshake(*options.tls, c->fd, host, options.tls_handshake_timeout_ms);
  if (!stream.ok()) return UnavailableError(where + ": " + std::string(stream.status().message()));
  conn->tls_ = std::move(stream).value();
  return conn;
}

RedisConnection::~RedisConnection() {
  tls_.reset();  // before redisFree closes the socket under it
  redisFree(c_);
}

RedisConnection::ReplyPtr RedisConnection::Command(const std::vector<std::string_view>& argv) {
  if (broken_) return ReplyPtr(nullptr, freeReplyObject);
  return tls_ != nullptr ? TlsCommand(argv) : PlainCommand(argv);
}

RedisConnection::ReplyPtr RedisConnection::Fail(std::string why) {
  broken_ = true;
  error_ = std::move(why);
  return ReplyPtr(nullptr, freeReplyObject);
}

bool RedisConnection::ReplyTooLarge() const {
  // A bulk reply stays in the reader's buffer until it is whole: the buffer is the reply so far.
  return c_->reader->len > max_reply_bytes_;
}

RedisConnection::ReplyPtr RedisConnection::PlainCommand(const std::vector<std::string_view>& argv) {
  // What redisCommandArgv does (append, write all, read until a reply), with the reply's size
  // checked between reads.
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (std::string_view a : argv) args.push_back(a.data()), lens.push_back(a.size());
  auto io_error = [&] { return std::string(c_->err ? c_->errstr : "no reply"); };
  if (redisAppendCommandArgv(c_, static_cast<int>(args.size()), args.data(), lens.data()) != REDIS_OK)
    return Fail(io_error());
  for (int done = 0; !done;)
    if (redisBufferWrite(c_, &done) != REDIS_OK) return Fail(io_error());
  for (;;) {
    void* reply = nullptr;
    if (redisGetReplyFromReader(c_, &reply) != REDIS_OK) return Fail(io_error());
    if (reply != nullptr) return ReplyPtr(static_cast<redisReply*>(reply), freeReplyObject);
    if (ReplyTooLarge())
      return Fail("reply of more than " + std::to_string(max_reply_bytes_) + " bytes refused (max_reply_bytes)");
    if (redisBufferRead(c_) != REDIS_OK) return Fail(io_error());
  }
}

RedisConnection::ReplyPtr RedisConnection::TlsCommand(const std::vector<std::string_view>& argv) {
  auto fail = [&](std::string why) { return Fail(std::move(why)); };
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (std::string_view a : argv) args.push_back(a.data()), lens.push_back(a.size());
  char* formatted = nullptr;
  const int len = redisFormatCommandArgv(&formatted, static_cast<int>(args.size()), args.data(), lens.data());
  if (len < 0) return fail("cannot format the command");
  const Status wrote = tls_->WriteAll(std::string_view(formatted, static_cast<size_t>(len)), command_timeout_ms_);
  redisFreeCommand(formatted);
  if (!wrote.ok()) return fail(std::string(wrote.message()));
  // The reply, parsed by hiredis' reader as on a plain socket (its type, length and nesting
  // checks); what it holds is judged by the caller (entry format, MAC) as for plain TCP.
  std::unique_ptr<char[]> chunk;
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(c_->reader, &reply) != REDIS_OK)
      return fail(std::string("protocol error: ") + c_->reader->errstr);
    if (reply != nullptr) return ReplyPtr(static_cast<redisReply*>(reply), freeReplyObject);
    if (ReplyTooLarge())
      return fail("reply of more than " + std::to_string(max_reply_bytes_) + " bytes refused (max_reply_bytes)");
    if (!chunk) chunk = std::make_unique<char[]>(kReadChunkBytes);
    auto n = tls_->ReadSome(chunk.get(), kReadChunkBytes, command_timeout_ms_);
    if (!n.ok()) return fail(std::string(n.status().message()));
    if (redisReaderFeed(c_->reader, chunk.get(), *n) != REDIS_OK)
      return fail(std::string("protocol error: ") + c_->reader->errstr);
  }
}

}  // namespace swarmkv
