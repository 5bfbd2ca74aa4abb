// RedisServer: a real redis-server child process on a free loopback port, for tests and benches,
// and the few plain-port helpers the Redis Cluster tests share (a free port for a cluster bus, one
// admin command's reply, waiting for a cluster to converge).
//
// Started with a temp dir, no persistence, bound to 127.0.0.1; Kill() sends SIGKILL (a crash),
// Restart() starts a fresh server on the same port. The destructor stops it.
//
// Thread-safety: one owner thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

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

// A loopback TCP port free at the time of the call (0 when none could be had).
int FreeLoopbackPort();

// One command on the node at 127.0.0.1:`port` over plain TCP: the reply as text, integers in
// decimal, errors as their message ("" when the node does not answer).
std::string RedisCommandText(int port, const std::vector<std::string>& argv);

// Waits until every node at `ports` says cluster_state:ok in CLUSTER INFO (slots covered, gossip
// converged), polling the cluster's own state; false with `*why` after 20 s.
bool AwaitClusterOk(const std::vector<int>& ports, std::string* why);

}  // namespace swarmkv::testing
