// RedisServer: a real redis-server child process on a free loopback port, for tests and benches.
//
// Started with a temp dir, no persistence, bound to 127.0.0.1; Kill() sends SIGKILL (a crash),
// Restart() starts a fresh server on the same port. The destructor stops it.
//
// Thread-safety: one owner thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace swarmkv::testing {

class RedisServer {
 public:
  // nullptr with `*why` set when redis-server is not installed or does not come up.
  static std::unique_ptr<RedisServer> Start(std::string* why, const std::string& extra_args = "");
  // A server that also serves TLS on tls_port(), configured by `tls_args` (--tls-cert-file ...,
  // see TestPki::RedisServerArgs); port() stays plain TCP for readiness checks and admin commands.
  static std::unique_ptr<RedisServer> StartTls(std::string* why, const std::string& tls_args,
                                               const std::string& extra_args = "");
  ~RedisServer();

  int port() const { return port_; }
  int tls_port() const { return tls_port_; }
  std::string url(int db = 0) const { return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db); }
  std::string tls_url(const std::string& host = "127.0.0.1", int db = 0) const {
    return "rediss://" + host + ":" + std::to_string(tls_port_) + "/" + std::to_string(db);
  }
  void Kill();
  bool Restart(std::string* why);
  bool running() const { return pid_ > 0; }

 private:
  RedisServer() = default;
  bool Launch(std::string* why);

  int port_ = 0;
  int tls_port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
  std::string extra_args_;
};

// The redis-server binary, or "" when absent.
std::string RedisServerBinary();

}  // namespace swarmkv::testing
