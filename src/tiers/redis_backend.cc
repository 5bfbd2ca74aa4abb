#include "tiers/redis_backend.h"

#include <cctype>
#include <cstring>

#include <hiredis/hiredis.h>

#include <charconv>
#include <chrono>
#include <sstream>

#include "base/logging.h"
#include "base/sysinfo.h"

namespace swarmkv {
namespace {

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
  const std::string shown = RedactRedisUrl(url);
  auto bad = [&](std::string_view why) {
    return InvalidArgumentError("redis URL '" + shown + "': " + std::string(why) +
                                " (expected redis://[[user]:password@]host:port/db, or rediss:// for TLS)");
  };
  RedisAddress a;
  std::string_view rest;
  if (url.starts_with("redis://")) {
    rest = url.substr(8);
  } else if (url.starts_with("rediss://")) {
    rest = url.substr(9);
    a.tls = true;
  } else {
    return bad("missing redis:// or rediss:// scheme");
  }
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

RedisBackend::RedisBackend(RedisBackendOptions options, RedisAddress address, std::unique_ptr<RedisTlsContext> tls)
    : options_(std::move(options)), address_(std::move(address)), tls_(std::move(tls)) {}

Result<std::unique_ptr<RedisBackend>> RedisBackend::Open(RedisBackendOptions options) {
  SKV_ASSIGN_OR_RETURN(RedisAddress address, ParseRedisUrl(options.url));
  options.url = RedactRedisUrl(options.url);  // only shown from here on: never log the password
  if (options.command_timeout_ms <= 0 || options.connect_timeout_ms <= 0 || options.backoff_min_ms <= 0 ||
      options.backoff_max_ms < options.backoff_min_ms || options.tls_handshake_timeout_ms <= 0) {
    return InvalidArgumentError("redis tier: timeouts and backoff must be positive");
  }
  std::unique_ptr<RedisTlsContext> tls;
  if (address.tls) {
    SKV_ASSIGN_OR_RETURN(tls, RedisTlsContext::Create(options.tls));
    if (options.tls.insecure)
      SKV_LOG(WARN) << "redis tier " << options.url
                    << ": --redis-tls-insecure: the server's certificate and name are NOT verified (anyone on the "
                       "path can read and replace the KV entries)";
  } else if (options.tls.any()) {
    return InvalidArgumentError("redis tier " + options.url +
                                ": --redis-tls-* options need a rediss:// URL (this one is plain TCP)");
  }
  std::unique_ptr<RedisBackend> b(new RedisBackend(std::move(options), std::move(address), std::move(tls)));
  std::string error;
  std::unique_ptr<RedisConnection> conn = b->Connect(&error);
  const bool up = conn != nullptr;
  {
    std::lock_guard lock(b->mu_);
    b->ctx_ = std::move(conn);
    b->last_error_ = error;
    b->counters_.available = up;
    if (up) b->DetectClusterLocked(b->ctx_.get());
  }
  if (!up) {
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
}

std::unique_ptr<RedisConnection> RedisBackend::Connect(std::string* error) const {
  return ConnectTo(address_.host, address_.port, /*select_db=*/true, error);
}

std::unique_ptr<RedisConnection> RedisBackend::ConnectTo(const std::string& host, int port, bool select_db,
                                                         std::string* error) const {
  RedisConnectOptions co;
  co.connect_timeout_ms = options_.connect_timeout_ms;
  co.command_timeout_ms = options_.command_timeout_ms;
  co.tls_handshake_timeout_ms = options_.tls_handshake_timeout_ms;
  co.max_reply_bytes = options_.max_reply_bytes;
  co.tls = tls_.get();
  auto opened = RedisConnection::Open(host, port, co);
  if (!opened.ok()) {
    *error = opened.status().message();
    return nullptr;
  }
  std::unique_ptr<RedisConnection> c = std::move(opened).value();
  // The first command's failure on a plain connection most often means a TLS-only port.
  auto failed = [&](std::string_view what, const ReplyPtr& r) {
    if (r) return std::string(what) + " refused: " + std::string(r->str, r->len);
    std::string e = std::string(what) + ": " + c->error();
    if (!c->tls()) {
      e += " (is " + host + ":" + std::to_string(port) + " a TLS port? then use rediss://)";
    } else if (e.find("unexpected eof") != std::string::npos && tls_->options().cert_file.empty()) {
      // TLS 1.3 servers refuse a missing client certificate only after the client's handshake.
      e += " (a server closing right after the handshake may require a client certificate: "
           "--redis-tls-cert and --redis-tls-key)";
    }
    return e;
  };
  if (!address_.password.empty()) {
    // Redis 6 ACL: AUTH user pass; older servers and the default user: AUTH pass.
    ReplyPtr r = address_.username.empty() ? c->Command({"AUTH", address_.password})
                                           : c->Command({"AUTH", address_.username, address_.password});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = failed("AUTH", r);
      return nullptr;
    }
  }
  {
    // A server that wants a password we lack answers NOAUTH here: unavailable, not half-working.
    ReplyPtr r = c->Command({"PING"});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = failed("PING", r);
      return nullptr;
    }
  }
  if (select_db && address_.db != 0) {
    ReplyPtr r = c->Command({"SELECT", std::to_string(address_.db)});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = failed("SELECT", r);
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
    std::unique_ptr<RedisConnection> c = Connect(&error);
    lock.lock();
    if (c == nullptr) {
      // Said once per new reason (a certificate rotated under us reads differently from a server
      // that is down), not once per attempt.
      if (error != last_error_)
        SKV_LOG(WARN) << "redis tier " << options_.url << ": reconnecting failed: " << error;
      last_error_ = error;
      backoff_ms = std::min(backoff_ms * 2, options_.backoff_max_ms);
      continue;
    }
    if (shutting_down_ || ctx_ != nullptr) continue;
    ctx_ = std::move(c);
    ++reconnects_;
    counters_.available = true;
    DetectClusterLocked(ctx_.get());
    SKV_LOG(INFO) << "redis tier " << options_.url << " reconnected";
  }
}

Status RedisBackend::DisconnectLocked(std::string_view what) {
  std::string error = ctx_ != nullptr && !ctx_->error().empty() ? ctx_->error() : "no reply";
  if (ctx_ != nullptr) {
    ctx_.reset();
    SKV_LOG(WARN) << "redis tier " << options_.url << ": " << what << " failed (" << error
                  << "); reconnecting in the background";
  }
  last_error_ = error;
  counters_.available = false;
  cv_.notify_all();
  return UnavailableError("redis tier " + options_.url + ": " + std::string(what) + ": " + error);
}

std::string RedisBackend::KeyFor(const Hash128& key) const { return options_.key_prefix + key.ToHex(); }

Result<RedisBackend::ReplyPtr> RedisBackend::RunLocked(const std::vector<std::string_view>& argv) {
  if (cluster_) return RunClusterLocked(argv);
  if (ctx_ == nullptr) return UnavailableError("redis tier " + options_.url + " is disconnected: " + last_error_);
  ReplyPtr r = ctx_->Command(argv);
  if (!r) return DisconnectLocked(argv[0]);
  if (r->type == REDIS_REPLY_ERROR && ParseRedirect(std::string_view(r->str, r->len))) {
    // The server became (or always was) a cluster node that does not own this key.
    DetectClusterLocked(ctx_.get());
    if (cluster_) return RunClusterLocked(argv);
  }
  return r;
}

Result<RedisBackend::ReplyPtr> RedisBackend::RunClusterLocked(const std::vector<std::string_view>& argv) {
  MaybeRefreshSlotsLocked();
  const uint16_t slot = RedisKeySlot(argv[1]);
  const RedisNodeAddress* owner = slots_.NodeFor(slot);
  if (owner == nullptr) {
    refresh_due_ = true;
    return UnavailableError("redis tier " + options_.url + ": cluster slot " + std::to_string(slot) + " has no node");
  }
  RedisNodeAddress node = *owner;
  bool asking = false;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    SKV_ASSIGN_OR_RETURN(RedisConnection* c, NodeLocked(node));
    if (asking) {
      ReplyPtr a = c->Command({"ASKING"});
      if (!a) {
        DropNodeLocked(node);
        return UnavailableError("redis tier " + options_.url + ": node " + node.ToString() + " lost (ASKING)");
      }
    }
    ReplyPtr r = c->Command(argv);
    if (!r) {
      DropNodeLocked(node);
      return UnavailableError("redis tier " + options_.url + ": node " + node.ToString() + " lost (" +
                              std::string(argv[0]) + ")");
    }
    if (r->type != REDIS_REPLY_ERROR) return r;
    const std::string_view error(r->str, r->len);
    if (auto redirect = ParseRedirect(error)) {
      ++redirects_;
      if (!redirect->ask) {
        slots_.Set(redirect->slot, redirect->to);
        refresh_due_ = true;  // a slot moved: others may have too
      }
      node = redirect->to;
      asking = redirect->ask;
      continue;
    }
    if (error.starts_with("CLUSTERDOWN") || error.starts_with("TRYAGAIN") || error.starts_with("LOADING"))
      return UnavailableError("redis tier " + options_.url + ": " + std::string(error));
    return r;  // another error (OOM...): the caller's to interpret
  }
  refresh_due_ = true;
  return UnavailableError("redis tier " + options_.url + ": more than " + std::to_string(kMaxRedirects) +
                          " cluster redirects for one key");
}

void RedisBackend::DetectClusterLocked(RedisConnection* c) {
  ReplyPtr r = c->Command({"CLUSTER", "SLOTS"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return;  // not a cluster node (cluster support disabled)
  auto map = RedisSlotMap::FromClusterSlots(r.get(), {address_.host, address_.port});
  if (!map.ok()) {
    SKV_LOG(WARN) << "redis tier " << options_.url << ": " << map.status().ToString();
    return;
  }
  if (!cluster_) {
    SKV_LOG(INFO) << "redis tier " << options_.url << ": Redis Cluster of " << map->nodes().size() << " master(s), "
                  << map->covered_slots() << " of " << kRedisClusterSlots << " slots covered";
    if (address_.db != 0)
      SKV_LOG(WARN) << "redis tier " << options_.url << ": a cluster has only database 0; /" << address_.db
                    << " is ignored";
  }
  cluster_ = true;
  slots_ = std::move(map).value();
  refresh_due_ = false;
  last_refresh_ns_ = MonotonicNanos();
}

void RedisBackend::MaybeRefreshSlotsLocked() {
  const int64_t now = MonotonicNanos();
  if (!refresh_due_ || now - last_refresh_ns_ < 1000000000) return;
  last_refresh_ns_ = now;  // one attempt a second, whatever its outcome
  std::vector<RedisNodeAddress> candidates = slots_.nodes();
  candidates.push_back({address_.host, address_.port});
  for (const RedisNodeAddress& node : candidates) {
    auto c = NodeLocked(node);
    if (!c.ok()) continue;
    ReplyPtr r = (*c)->Command({"CLUSTER", "SLOTS"});
    if (!r) {
      DropNodeLocked(node);
      continue;
    }
    auto map = RedisSlotMap::FromClusterSlots(r.get(), node);
    if (!map.ok() || map->covered_slots() == 0) continue;
    slots_ = std::move(map).value();
    refresh_due_ = false;
    return;
  }
}

Result<RedisConnection*> RedisBackend::NodeLocked(const RedisNodeAddress& node) {
  NodeConnection& n = nodes_[node.ToString()];
  if (n.ctx != nullptr) return n.ctx.get();
  const int64_t now = MonotonicNanos();
  if (now < n.down_until_ns)
    return UnavailableError("redis tier " + options_.url + ": cluster node " + node.ToString() + " is down");
  std::string error;
  // Holding mu_ while connecting (at most connect_timeout_ms): calls are serialised anyway.
  n.ctx = ConnectTo(node.host, node.port, /*select_db=*/false, &error);
  if (n.ctx == nullptr) {
    n.backoff_ms = n.backoff_ms == 0 ? options_.backoff_min_ms : std::min(n.backoff_ms * 2, options_.backoff_max_ms);
    n.down_until_ns = now + int64_t{n.backoff_ms} * 1000000;
    refresh_due_ = true;  // a failover may have moved its slots
    return UnavailableError("redis tier " + options_.url + ": cluster node " + node.ToString() + ": " + error);
  }
  n.backoff_ms = 0;
  return n.ctx.get();
}

void RedisBackend::DropNodeLocked(const RedisNodeAddress& node) {
  NodeConnection& n = nodes_[node.ToString()];
  if (n.ctx != nullptr) {
    SKV_LOG(WARN) << "redis tier " << options_.url << ": cluster node " << node.ToString() << " lost ("
                  << (n.ctx->error().empty() ? "no reply" : n.ctx->error())
                  << "); its keys read as misses until it is back";
    n.ctx.reset();
  }
  n.backoff_ms = options_.backoff_min_ms;
  n.down_until_ns = MonotonicNanos() + int64_t{n.backoff_ms} * 1000000;
  refresh_due_ = true;
}

Status RedisBackend::Put(const Hash128& key, std::span<const uint8_t> bytes) {
  const std::string k = KeyFor(key);
  const std::string_view value(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::string ttl = std::to_string(options_.ttl_seconds);
  std::vector<std::string_view> argv = {"SET", k, value};
  if (options_.ttl_seconds > 0) argv.insert(argv.end(), {"EX", ttl});
  std::lock_guard lock(mu_);
  ++counters_.puts;
  auto r = RunLocked(argv);
  if (!r.ok()) {
    ++counters_.put_failures;
    return r.status();
  }
  if ((*r)->type == REDIS_REPLY_ERROR) {  // e.g. OOM with maxmemory and a noeviction policy
    ++counters_.put_failures;
    return ResourceExhaustedError("redis tier " + options_.url + ": SET: " + std::string((*r)->str, (*r)->len));
  }
  return Status::OK();
}

Result<bool> RedisBackend::GetInto(const Hash128& key, ReadBuffer* out) {
  const std::string k = KeyFor(key);
  std::lock_guard lock(mu_);
  ++counters_.gets;
  SKV_ASSIGN_OR_RETURN(ReplyPtr r, RunLocked({"GET", k}));
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
  const std::string k = KeyFor(key);
  std::lock_guard lock(mu_);
  SKV_ASSIGN_OR_RETURN(ReplyPtr r, RunLocked({"EXISTS", k}));
  return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
}

Status RedisBackend::Erase(const Hash128& key) {
  const std::string k = KeyFor(key);
  std::lock_guard lock(mu_);
  ++counters_.erases;
  auto r = RunLocked({"DEL", k});
  return r.ok() ? Status::OK() : r.status();
}

bool RedisBackend::cluster() const {
  std::lock_guard lock(mu_);
  return cluster_;
}

int64_t RedisBackend::redirects() const {
  std::lock_guard lock(mu_);
  return redirects_;
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

std::string RedisBackend::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

int64_t RedisBackend::reconnects() const {
  std::lock_guard lock(mu_);
  return reconnects_;
}

TierBackendStats RedisBackend::stats() const {
  std::lock_guard lock(mu_);
  TierBackendStats s = counters_;
  s.entries = -1;
  if (cluster_) {  // available while any node answers (one node down: its keys are misses)
    s.available = ctx_ != nullptr;
    for (const auto& [name, n] : nodes_) s.available |= n.ctx != nullptr;
  }
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
