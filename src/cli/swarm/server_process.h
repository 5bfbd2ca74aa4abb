// A server child process for benchmarks and end-to-end tests: `swarmkv serve`, or another server
// that takes --host/--port and answers a readiness GET (llama.cpp's llama-server: /health).
//
// Invariant: while a ServerProcess object lives and Start() succeeded, the child runs (or has
// died and alive() says so); the destructor stops it (SIGTERM, then SIGKILL after a grace
// period), so no server outlives the benchmark that started it.
//
// Thread-safety: one owner thread; PeakRssBytes() may be called from a sampling thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace swarmkv::cli {

struct ServerProcessOptions {
  std::string binary;                    // path of the swarmkv executable (or another server's)
  std::string subcommand = "serve";      // the first argument; empty for none
  std::vector<std::string> args;         // after the subcommand; --host/--port are added
  std::string ready_path = "/api/version";  // answers 200 once the server serves
  std::string log_path;           // the child's stdout+stderr go here
  int port = 0;                   // 0: pick a free loopback port
  int ready_timeout_ms = 120000;  // until GET /api/version answers
};

class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  Status Start(const ServerProcessOptions& options);
  // SIGTERM and wait; SIGKILL after `grace_ms`. Returns the exit status text.
  Status Stop(int grace_ms = 10000);
  // SIGKILL at once (crash simulation).
  void Kill();

  bool alive() const;
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  // VmHWM / VmRSS of the child, 0 when unknown.
  uint64_t PeakRssBytes() const;
  uint64_t RssBytes() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int PickFreeLoopbackPort();

}  // namespace swarmkv::cli
