// Redis over TLS (rediss://) with OpenSSL. Debian 12's hiredis 0.14 has no hiredis_ssl, so the
// Redis tier runs TLS itself over the socket hiredis connected, and keeps hiredis for the
// protocol (redisFormatCommandArgv, the context's redisReader): see redis_connection.h.
//
//   RedisTlsOptions  what the operator configures (--redis-tls-*)
//   RedisTlsContext  the SSL_CTX built from them once, at start-up (a bad CA, certificate or key is
//                    an InvalidArgument there, not a failure at the first connection): the CA
//                    (a PEM file, or a directory prepared with `openssl rehash`; default: the
//                    system store), an optional client certificate + key (mutual TLS), TLS >= 1.2,
//                    the server's certificate verified unless `insecure`
//   TlsStream        one TLS session over a connected socket: the handshake (SNI, and the
//                    certificate checked against the host name or IP address dialled, or
//                    `server_name`), then reads and writes, each wait bounded (poll(); the
//                    socket is made non-blocking)
//
// Invariant: a TlsStream exists only after a completed handshake whose verification passed (or
// was switched off by `insecure`); after any I/O error it is unusable (the owner drops it).
// Thread-safety: RedisTlsContext is immutable after Create and shared by every connection (SSL_new
// on a shared SSL_CTX is thread-safe); a TlsStream has one owner thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

struct ssl_ctx_st;
struct ssl_st;

namespace swarmkv {

struct RedisTlsOptions {
  std::string ca_path;      // --redis-tls-ca: PEM file or rehashed directory; "": the system store
  std::string cert_file;    // --redis-tls-cert: client certificate chain (PEM), for mutual TLS
  std::string key_file;     // --redis-tls-key: its private key (PEM, unencrypted)
  std::string server_name;  // --redis-tls-server-name: SNI and the name checked; "": the host dialled
  bool insecure = false;    // --redis-tls-insecure: no certificate or name verification at all
  // True when any option is set (they are an error without a rediss:// URL).
  bool any() const { return !ca_path.empty() || !cert_file.empty() || !key_file.empty() || !server_name.empty() || insecure; }
};

class RedisTlsContext {
 public:
  // InvalidArgument naming the flag when a file cannot be read or does not hold what it should
  // (no certificate in the CA file, a key that does not match the certificate, an encrypted key).
  static Result<std::unique_ptr<RedisTlsContext>> Create(const RedisTlsOptions& options);
  ~RedisTlsContext();
  RedisTlsContext(const RedisTlsContext&) = delete;
  RedisTlsContext& operator=(const RedisTlsContext&) = delete;

  const RedisTlsOptions& options() const { return options_; }
  ssl_ctx_st* ssl_ctx() const { return ctx_; }

 private:
  RedisTlsContext(RedisTlsOptions options, ssl_ctx_st* ctx) : options_(std::move(options)), ctx_(ctx) {}
  const RedisTlsOptions options_;
  ssl_ctx_st* const ctx_;
};

class TlsStream {
 public:
  // Runs the handshake on connected socket `fd` (borrowed: the caller closes it after this stream
  // is gone) within `timeout_ms`. `host` is what was dialled: its certificate must name it (a DNS
  // name, or an IP address SAN for an address) unless options().server_name replaces it, and it
  // goes out as SNI when it is a name. Unavailable with the reason — the verification error
  // ("certificate verify failed: ...", "hostname mismatch"), the server's alert, or a timeout —
  // and a hint at the flag that fixes it.
  static Result<std::unique_ptr<TlsStream>> Handshake(const RedisTlsContext& ctx, int fd, const std::string& host,
                                                      int timeout_ms);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Writes all of `bytes`; each wait for the socket is at most `timeout_ms`.
  Status WriteAll(std::string_view bytes, int timeout_ms);
  // Reads at least one byte (at most `capacity`) within `timeout_ms`. Unavailable when the server
  // closed the connection, on a TLS error (e.g. its alert that a client certificate is required)
  // or on timeout.
  Result<size_t> ReadSome(char* buffer, size_t capacity, int timeout_ms);

 private:
  TlsStream(ssl_st* ssl, int fd) : ssl_(ssl), fd_(fd) {}
  ssl_st* const ssl_;
  const int fd_;
};

}  // namespace swarmkv
