#include "tiers/redis_tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "base/sysinfo.h"

namespace swarmkv {
namespace {

// The reasons queued by OpenSSL on this thread, oldest first, "; "-joined (the queue is emptied).
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    char buf[256];
    if (reason == nullptr) ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += reason != nullptr ? reason : buf;
  }
  return out;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Waits until `fd` is readable (or writable) or `deadline_ns` (steady clock) passes. True when
// ready, and on an error or hang-up too: the next TLS call then reports it.
bool WaitFd(int fd, bool for_read, int64_t deadline_ns) {
  for (;;) {
    const int64_t left_ns = deadline_ns - MonotonicNanos();
    if (left_ns <= 0) return false;
    pollfd p{fd, static_cast<short>(for_read ? POLLIN : POLLOUT), 0};
    const int rc = ::poll(&p, 1, static_cast<int>((left_ns + 999'999) / 1'000'000));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return true;
  }
}

int64_t DeadlineAfter(int timeout_ms) { return MonotonicNanos() + int64_t{timeout_ms} * 1'000'000; }

// Blocks SIGPIPE on this thread while OpenSSL writes to a socket the server may have closed (a
// test binary or library user need not ignore SIGPIPE), and swallows the one that write raised.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pending;
    ::sigpending(&pending);
    was_pending_ = ::sigismember(&pending, SIGPIPE) == 1;
    sigset_t block;
    ::sigemptyset(&block);
    ::sigaddset(&block, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &block, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      ::sigpending(&pending);
      if (::sigismember(&pending, SIGPIPE) == 1) {
        sigset_t pipe;
        ::sigemptyset(&pipe);
        ::sigaddset(&pipe, SIGPIPE);
        const timespec zero{0, 0};
        ::sigtimedwait(&pipe, nullptr, &zero);
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

// An encrypted key would make OpenSSL prompt on the terminal: refuse instead.
int NoPassphrase(char*, int, int, void*) { return 0; }

// True when `dir` holds at least one "<8 hex>.<digit>" name (what `openssl rehash` creates).
bool HasRehashedCertificates(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 10 || name[8] != '.' || !std::isdigit(static_cast<unsigned char>(name[9]))) continue;
    bool hex = true;
    for (int i = 0; i < 8; ++i) hex &= std::isxdigit(static_cast<unsigned char>(name[static_cast<size_t>(i)])) != 0;
    if (hex) return true;
  }
  return false;
}

// Says what the failed TLS call means for the operator, with the flag that fixes it. A server
// that is not speaking TLS shows as garbage or an EOF during the handshake (and only then: later,
// an EOF is a server that went away).
std::string Explain(std::string what, bool handshake) {
  auto has = [&](const char* s) { return what.find(s) != std::string::npos; };
  if (handshake && (has("wrong version number") || has("packet length too long") || has("record layer failure") ||
                    has("unexpected eof")))
    what += " (is this a TLS port? rediss:// needs the server's tls-port; a plain port wants redis://)";
  else if (has("certificate required") || has("alert handshake failure") || has("peer did not return a certificate"))
    what += " (the server requires a client certificate: give --redis-tls-cert and --redis-tls-key)";
  else if (has("unknown ca") || has("bad certificate") || has("certificate unknown"))
    what += " (the server refused the client certificate: is it signed by a CA the server's tls-ca-cert-file trusts?)";
  return what;
}

std::string IoFailure(int rc, int err, bool handshake) {
  const int saved_errno = errno;
  std::string e = OpenSslErrors();
  if (!e.empty()) return Explain(e, handshake);
  if (err == SSL_ERROR_ZERO_RETURN) return "the server closed the TLS connection";
  if (err == SSL_ERROR_SYSCALL) {
    if (rc == 0 || saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE)
      return Explain("the server closed the connection (unexpected eof)", handshake);
    return std::strerror(saved_errno);
  }
  return "TLS error " + std::to_string(err);
}

}  // namespace

Result<std::unique_ptr<RedisTlsContext>> RedisTlsContext::Create(const RedisTlsOptions& options) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return InternalError("TLS: SSL_CTX_new: " + OpenSslErrors());
  std::unique_ptr<RedisTlsContext> out(new RedisTlsContext(options, ctx));  // frees ctx on any return
  ERR_clear_error();
  auto bad = [&](const char* flag, const std::string& path, const std::string& why) {
    return InvalidArgumentError(std::string(flag) + " '" + path + "': " + why);
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_CTX_set_default_passwd_cb(ctx, NoPassphrase);

  if (options.ca_path.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) return InternalError("TLS: the system CA store: " + OpenSslErrors());
  } else {
    struct stat st {};
    if (::stat(options.ca_path.c_str(), &st) != 0) return bad("--redis-tls-ca", options.ca_path, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) {
      if (!HasRehashedCertificates(options.ca_path))
        return bad("--redis-tls-ca", options.ca_path,
                   "the directory holds no hashed certificate names (run `openssl rehash` on it, or give a PEM file)");
      if (SSL_CTX_load_verify_locations(ctx, nullptr, options.ca_path.c_str()) != 1)
        return bad("--redis-tls-ca", options.ca_path, OpenSslErrors());
    } else if (SSL_CTX_load_verify_locations(ctx, options.ca_path.c_str(), nullptr) != 1) {
      return bad("--redis-tls-ca", options.ca_path, "not a PEM certificate file: " + OpenSslErrors());
    }
  }
  if (options.cert_file.empty() != options.key_file.empty())
    return InvalidArgumentError("--redis-tls-cert and --redis-tls-key go together (mutual TLS needs both)");
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1)
      return bad("--redis-tls-cert", options.cert_file, "cannot load a PEM certificate: " + OpenSslErrors());
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      const std::string e = OpenSslErrors();
      if (e.find("mismatch") != std::string::npos)
        return bad("--redis-tls-key", options.key_file, "does not match --redis-tls-cert (" + e + ")");
      return bad("--redis-tls-key", options.key_file, "cannot load an unencrypted PEM private key: " + e);
    }
    if (SSL_CTX_check_private_key(ctx) != 1)
      return bad("--redis-tls-key", options.key_file, "does not match --redis-tls-cert: " + OpenSslErrors());
  }
  SSL_CTX_set_verify(ctx, options.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  return out;
}

RedisTlsContext::~RedisTlsContext() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<TlsStream>> TlsStream::Handshake(const RedisTlsContext& ctx, int fd, const std::string& host,
                                                        int timeout_ms) {
  const RedisTlsOptions& o = ctx.options();
  const std::string& name = o.server_name.empty() ? host : o.server_name;
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return UnavailableError(std::string("TLS: fcntl: ") + std::strerror(errno));
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx.ssl_ctx());
  if (ssl == nullptr) return UnavailableError("TLS: SSL_new: " + OpenSslErrors());
  std::unique_ptr<TlsStream> stream(new TlsStream(ssl, fd));
  if (SSL_set_fd(ssl, fd) != 1) return UnavailableError("TLS: SSL_set_fd: " + OpenSslErrors());
  const bool ip = IsIpAddress(name);
  if (!ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1)
    return UnavailableError("TLS: server name '" + name + "': " + OpenSslErrors());
  if (!o.insecure) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (set != 1) return UnavailableError("TLS: cannot check the name '" + name + "': " + OpenSslErrors());
  }
  const int64_t deadline = DeadlineAfter(timeout_ms);
  SigpipeGuard no_sigpipe;
  for (;;) {
    errno = 0;
    const int rc = SSL_connect(ssl);
    if (rc == 1) return stream;
    const int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!WaitFd(fd, err == SSL_ERROR_WANT_READ, deadline))
        return UnavailableError("TLS handshake with " + name + " timed out after " + std::to_string(timeout_ms) +
                                " ms (is this a TLS port? a plain Redis port never answers a TLS hello)");
      continue;
    }
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      std::string m = "TLS: the certificate of " + name + " is refused: " + X509_verify_cert_error_string(verify);
      if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
        m += " (it does not name '" + name +
             "': connect by a name it has, or give --redis-tls-server-name NAME; --redis-tls-insecure skips all "
             "verification)";
      else if (verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || verify == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
               verify == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || verify == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
               verify == X509_V_ERR_CERT_SIGNATURE_FAILURE)
        m += " (give the CA that signed it with --redis-tls-ca)";
      return UnavailableError(m);
    }
    return UnavailableError("TLS handshake with " + name + " failed: " + IoFailure(rc, err, /*handshake=*/true));
  }
}

TlsStream::~TlsStream() {
  SigpipeGuard no_sigpipe;
  SSL_shutdown(ssl_);  // one non-blocking close_notify, not waiting for the server's
  SSL_free(ssl_);
  ERR_clear_error();
}

Status TlsStream::WriteAll(std::string_view bytes, int timeout_ms) {
  SigpipeGuard no_sigpipe;
  ERR_clear_error();
  int64_t deadline = DeadlineAfter(timeout_ms);
  while (!bytes.empty()) {
    errno = 0;
    const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)));
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      deadline = DeadlineAfter(timeout_ms);
      continue;
    }
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!WaitFd(fd_, err == SSL_ERROR_WANT_READ, deadline))
        return UnavailableError("TLS write timed out after " + std::to_string(timeout_ms) + " ms");
      continue;
    }
    std::string why = IoFailure(n, err, /*handshake=*/false);
    if (err == SSL_ERROR_SYSCALL) {
      // The server may have sent an alert (TLS 1.3 refuses a missing client certificate after the
      // client's handshake is done) and closed: a read still finds it, and it says more than EOF.
      char byte;
      ERR_clear_error();
      (void)SSL_read(ssl_, &byte, 1);
      const std::string alert = OpenSslErrors();
      if (alert.find("alert") != std::string::npos) why = Explain(alert, /*handshake=*/false);
    }
    return UnavailableError("TLS write: " + why);
  }
  return Status::OK();
}

Result<size_t> TlsStream::ReadSome(char* buffer, size_t capacity, int timeout_ms) {
  SigpipeGuard no_sigpipe;  // a read may write (a TLS 1.3 key update)
  ERR_clear_error();
  const int64_t deadline = DeadlineAfter(timeout_ms);
  for (;;) {
    errno = 0;
    const int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(capacity, INT_MAX)));
    if (n > 0) return static_cast<size_t>(n);
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!WaitFd(fd_, err == SSL_ERROR_WANT_READ, deadline))
        return UnavailableError("TLS read timed out after " + std::to_string(timeout_ms) + " ms");
      continue;
    }
    return UnavailableError("TLS read: " + IoFailure(n, err, /*handshake=*/false));
  }
}

}  // namespace swarmkv
