#include "tiers/redis_backend.h"

#include <cctype>
#include <cstring>

#include <hiredis/hiredis.h>

#include <charconv>
#include <chrono>
#include <sstream>

#include "base/logging.h"

namespace swarmkv {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

timeval Millis(int ms) { return timeval{ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)}; }

bool ParseInt(std::string_view s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string RedactRedisUrl(std::string_view url) {
  size_t scheme = url.find("://");
  size_t at = url.rfind('@');
  if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) return std::string(url);
  std::string_view cred = url.substr(scheme + 3, at - scheme - 3);
  size_t colon = cred.find(':');
  std::string user(colon == std::string_view::npos ? std::string_view() : cred.substr(0, colon));
  return std::string(url.substr(0, scheme + 3)) + user + ":***" + std::string(url.substr(at));
}

namespace {

// %XX-decoding of a URL's user or password. False on a malformed escape.
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
      return false;
    out->push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return true;
}

}  // namespace

Result<RedisAddress> ParseRedisUrl(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  const std::string shown = RedactRedisUrl(url);
  auto bad = [&](std::string_view why) {
    return InvalidArgumentError("redis URL '" + shown + "': " + std::string(why) +
                                " (expected redis://[[user]:password@]host:port/db)");
  };
  if (url.starts_with("rediss://"))
    return UnimplementedError("redis URL '" + shown +
                              "': rediss:// (TLS) is not supported by this build: Debian 12's hiredis 0.14 has no "
                              "TLS (hiredis_ssl). Reach a TLS Redis through a local tunnel (stunnel, spiped) and "
                              "give its redis://127.0.0.1:PORT");
  if (!url.starts_with(kScheme)) return bad("missing redis:// scheme");
  std::string_view rest = url.substr(kScheme.size());
  RedisAddress a;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = cred.find(':');
    if (colon == std::string_view::npos) return bad("credentials must be user:password or :password");
    if (!PercentDecode(cred.substr(0, colon), &a.username) || !PercentDecode(cred.substr(colon + 1), &a.password))
      return bad("malformed %-escape in the credentials");
    if (a.password.empty()) return bad("empty password");
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!ParseInt(db, &a.db) || a.db < 0)) return bad("bad database number");
    rest = rest.substr(0, slash);
  }
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    if (!ParseInt(rest.substr(colon + 1), &a.port) || a.port <= 0 || a.port > 65535) return bad("bad port");
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad("missing host");
  a.host = std::string(rest);
  return a;
}

RedisBackend::RedisBackend(RedisBackendOptions options, RedisAddress address)
    : options_(std::move(options)), address_(std::move(address)) {}

Result<std::unique_ptr<RedisBackend>> RedisBackend::Open(RedisBackendOptions options) {
  SKV_ASSIGN_OR_RETURN(RedisAddress address, ParseRedisUrl(options.url));
  options.url = RedactRedisUrl(options.url);  // only shown from here on: never log the password
  if (options.command_timeout_ms <= 0 || options.connect_timeout_ms <= 0 || options.backoff_min_ms <= 0 ||
      options.backoff_max_ms < options.backoff_min_ms) {
    return InvalidArgumentError("redis tier: timeouts and backoff must be positive");
  }
  std::unique_ptr<RedisBackend> b(new RedisBackend(std::move(options), std::move(address)));
  std::string error;
  redisContext* ctx = b->Connect(&error);
  {
    std::lock_guard lock(b->mu_);
    b->ctx_ = ctx;
    b->last_error_ = error;
    b->counters_.available = ctx != nullptr;
  }
  if (ctx == nullptr) {
    SKV_LOG(WARN) << "redis tier " << b->options_.url << " unavailable at start (" << error
                  << "); serving without it and reconnecting in the background";
  }
  b->reconnect_thread_ = std::thread([raw = b.get()] { raw->ReconnectLoop(); });
  return b;
}

RedisBackend::~RedisBackend() {
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
  }
  cv_.notify_all();
  if (reconnect_thread_.joinable()) reconnect_thread_.join();
  if (ctx_ != nullptr) redisFree(ctx_);
}

redisContext* RedisBackend::Connect(std::string* error) const {
  redisContext* c = redisConnectWithTimeout(address_.host.c_str(), address_.port, Millis(options_.connect_timeout_ms));
  if (c == nullptr || c->err) {
    *error = c ? c->errstr : "cannot allocate a redis context";
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, Millis(options_.command_timeout_ms));
  if (!address_.password.empty()) {
    // Redis 6 ACL: AUTH user pass; older servers and the default user: AUTH pass.
    Reply r(static_cast<redisReply*>(
        address_.username.empty()
            ? redisCommand(c, "AUTH %b", address_.password.data(), address_.password.size())
            : redisCommand(c, "AUTH %b %b", address_.username.data(), address_.username.size(),
                           address_.password.data(), address_.password.size())));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = "AUTH refused: " + (r ? std::string(r->str, r->len) : std::string(c->errstr));
      redisFree(c);
      return nullptr;
    }
  }
  {
    // A server that wants a password we lack answers NOAUTH here: unavailable, not half-working.
    Reply r(static_cast<redisReply*>(redisCommand(c, "PING")));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = r ? std::string(r->str, r->len) : std::string(c->errstr);
      redisFree(c);
      return nullptr;
    }
  }
  if (address_.db != 0) {
    Reply r(static_cast<redisReply*>(redisCommand(c, "SELECT %d", address_.db)));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = r ? std::string(r->str, r->len) : std::string(c->errstr);
      redisFree(c);
      return nullptr;
    }
  }
  return c;
}

void RedisBackend::ReconnectLoop() {
  int backoff_ms = options_.backoff_min_ms;
  std::unique_lock lock(mu_);
  while (!shutting_down_) {
    if (ctx_ != nullptr) {
      backoff_ms = options_.backoff_min_ms;
      cv_.wait(lock, [&] { return shutting_down_ || ctx_ == nullptr; });
      continue;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return shutting_down_; });
    if (shutting_down_) break;
    lock.unlock();
    std::string error;
    redisContext* c = Connect(&error);
    lock.lock();
    if (c == nullptr) {
      last_error_ = error;
      backoff_ms = std::min(backoff_ms * 2, options_.backoff_max_ms);
      continue;
    }
    if (shutting_down_ || ctx_ != nullptr) {
      redisFree(c);
      continue;
    }
    ctx_ = c;
    ++reconnects_;
    counters_.available = true;
    SKV_LOG(INFO) << "redis tier " << options_.url << " reconnected";
  }
}

Status RedisBackend::DisconnectLocked(std::string_view what) {
  std::string error = ctx_ != nullptr && ctx_->err ? ctx_->errstr : "no reply";
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
    SKV_LOG(WARN) << "redis tier " << options_.url << ": " << what << " failed (" << error
                  << "); reconnecting in the background";
  }
  last_error_ = error;
  counters_.available = false;
  cv_.notify_all();
  return UnavailableError("redis tier " + options_.url + ": " + std::string(what) + ": " + error);
}

std::string RedisBackend::KeyFor(const Hash128& key) const { return options_.key_prefix + key.ToHex(); }

Status RedisBackend::Put(const Hash128& key, std::span<const uint8_t> bytes) {
  std::string k = KeyFor(key);
  std::lock_guard lock(mu_);
  ++counters_.puts;
  if (ctx_ == nullptr) {
    ++counters_.put_failures;
    return UnavailableError("redis tier " + options_.url + " is disconnected: " + last_error_);
  }
  Reply r(static_cast<redisReply*>(
      options_.ttl_seconds > 0
          ? redisCommand(ctx_, "SET %b %b EX %lld", k.data(), k.size(), bytes.data(), bytes.size(),
                         static_cast<long long>(options_.ttl_seconds))
          : redisCommand(ctx_, "SET %b %b", k.data(), k.size(), bytes.data(), bytes.size())));
  if (!r) {
    ++counters_.put_failures;
    return DisconnectLocked("SET");
  }
  if (r->type == REDIS_REPLY_ERROR) {  // e.g. OOM with maxmemory and a noeviction policy
    ++counters_.put_failures;
    return ResourceExhaustedError("redis tier " + options_.url + ": SET: " + std::string(r->str, r->len));
  }
  return Status::OK();
}

Result<bool> RedisBackend::GetInto(const Hash128& key, ReadBuffer* out) {
  std::string k = KeyFor(key);
  std::lock_guard lock(mu_);
  ++counters_.gets;
  if (ctx_ == nullptr) return UnavailableError("redis tier " + options_.url + " is disconnected: " + last_error_);
  Reply r(static_cast<redisReply*>(redisCommand(ctx_, "GET %b", k.data(), k.size())));
  if (!r) return DisconnectLocked("GET");
  if (r->type == REDIS_REPLY_NIL) return false;
  if (r->type != REDIS_REPLY_STRING) {
    return IOError("redis tier " + options_.url + ": GET " + k + ": unexpected reply type " + std::to_string(r->type));
  }
  ++counters_.hits;
  out->Resize(r->len);
  if (r->len > 0) std::memcpy(out->data(), r->str, r->len);
  return true;
}

Result<std::optional<std::string>> RedisBackend::Get(const Hash128& key) {
  // The same GET as GetInto (one copy more: the production restore path reads through GetInto).
  ReadBuffer buf;
  SKV_ASSIGN_OR_RETURN(bool found, GetInto(key, &buf));
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(std::string(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

Result<bool> RedisBackend::Contains(const Hash128& key) {
  std::string k = KeyFor(key);
  std::lock_guard lock(mu_);
  if (ctx_ == nullptr) return UnavailableError("redis tier " + options_.url + " is disconnected: " + last_error_);
  Reply r(static_cast<redisReply*>(redisCommand(ctx_, "EXISTS %b", k.data(), k.size())));
  if (!r) return DisconnectLocked("EXISTS");
  return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
}

Status RedisBackend::Erase(const Hash128& key) {
  std::string k = KeyFor(key);
  std::lock_guard lock(mu_);
  ++counters_.erases;
  if (ctx_ == nullptr) return UnavailableError("redis tier " + options_.url + " is disconnected: " + last_error_);
  Reply r(static_cast<redisReply*>(redisCommand(ctx_, "DEL %b", k.data(), k.size())));
  if (!r) return DisconnectLocked("DEL");
  return Status::OK();
}

bool RedisBackend::connected() const {
  std::lock_guard lock(mu_);
  return ctx_ != nullptr;
}

bool RedisBackend::WaitConnected(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (connected()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return connected();
}

int64_t RedisBackend::reconnects() const {
  std::lock_guard lock(mu_);
  return reconnects_;
}

TierBackendStats RedisBackend::stats() const {
  std::lock_guard lock(mu_);
  TierBackendStats s = counters_;
  s.entries = -1;
  return s;
}

std::string RedisBackend::DebugString() const {
  TierBackendStats s = stats();
  std::ostringstream os;
  os << "RedisBackend{" << options_.url << (s.available ? " connected" : " disconnected") << " hits=" << s.hits
     << "/" << s.gets << " puts=" << s.puts << " failed=" << s.put_failures << "}";
  return os.str();
}

}  // namespace swarmkv
