// GuardedHttpServer: cpp-httplib's Server with swarmkv's own connection handling underneath,
// against clients that hold connections open (slow-loris), flood headers, or leave mid-request.
//
// cpp-httplib 0.11 (Debian 12) reads a request's headers on a worker thread with only a per-read
// timeout: a client sending one header byte every few seconds holds a worker forever, 64 such
// clients stop the server, and header count is unbounded. Here every accepted socket is first
// *parked*: one thread (poll) collects its header block into a buffer, under a total deadline
// (header_timeout_ms, from the first byte of each request) and a byte cap (max_header_bytes).
// Only a connection whose header block is complete is handed to a worker, which runs httplib's
// own request parsing/routing over a GuardedStream that serves the buffered bytes first and then
// reads the body under a total body deadline. An idle keep-alive connection goes back to the
// parking thread, not a worker.
//
// Limits and their answers (each a JSON body, then the connection is closed):
//   more than max_connections open             -> 503 + Retry-After at accept
//   all workers busy and the ready queue full  -> 503 + Retry-After
//   header block larger than max_header_bytes  -> 431
//   header block not complete in time          -> 408 (silent close for an idle keep-alive)
//
// ClientDisconnected() lets a handler ask, on its worker thread, whether its client has gone
// (the peer closed or reset the connection): non-streaming generation polls it to cancel.
//
// Invariant: every accepted socket is owned by exactly one of: the parking thread, the ready
// queue, or one worker; the owner closes it. Open connections never exceed max_connections.
//
// Thread-safety: constructed, bound and listened like httplib::Server; Shutdown() (also run when
// the listener stops) joins the parking thread and the workers after their current request.
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace swarmkv {

struct ConnectionLimits {
  int worker_threads = 64;          // requests processed at once
  int max_connections = 512;        // open sockets (parked + queued + being served)
  int header_timeout_ms = 10000;    // a request's whole header block, from its first byte
  int body_timeout_ms = 60000;      // a request's whole body, once its headers are in
  int read_timeout_ms = 10000;      // any single read of the body
  int write_timeout_ms = 10000;     // any single write
  int keep_alive_timeout_ms = 5000; // idle time between requests on one connection
  int keep_alive_max_requests = 1000;
  size_t max_header_bytes = 64 << 10;  // request line + headers
  int retry_after_s = 2;
};

// True when the client of the request being handled on this thread has closed or reset its
// connection. False outside a GuardedHttpServer worker.
bool ClientDisconnected();

// Makes the connection of the request being handled on this thread close after its response
// (e.g. a body was refused unread: what follows it is not a next request). No-op elsewhere.
void CloseConnectionAfterResponse();

class GuardedHttpServer : public httplib::Server {
 public:
  explicit GuardedHttpServer(ConnectionLimits limits);
  ~GuardedHttpServer() override;

  // Stops parking and serving: closes parked sockets, lets workers finish their current request.
  // Idempotent. Call after stop().
  void Shutdown();

  // httplib 0.11 listens with a backlog of 5: under a connection flood, new clients' SYNs are
  // dropped and retried after seconds. Call after bind_to_port/bind_to_any_port.
  void RaiseListenBacklog(int backlog);

  // Runs `request` (raw HTTP bytes: one or more requests) through httplib's parsing and this
  // server's routes in-process, without a socket, and returns the raw response bytes. For the
  // fuzzer of the request handlers; ClientDisconnected() is false there.
  std::string ServeBuffer(const std::string& request);

  // Counters for tests and metrics.
  int open_connections() const { return open_.load(); }
  uint64_t rejected_busy() const { return rejected_busy_.load(); }
  uint64_t header_timeouts() const { return header_timeouts_.load(); }

 private:
  struct Conn {
    int fd = -1;
    std::string buffered;     // bytes read but not yet consumed by httplib
    int64_t deadline_ns = 0;  // parking: when to give up on this connection
    bool idle = true;         // parking: no byte of the next request yet
    int served = 0;           // requests served on this connection so far
  };

  // Runs on the listener thread (httplib calls it for each accepted socket): parks it.
  bool process_and_close_socket(socket_t sock) override;

  void ParkLoop();
  void Park(Conn c);
  void Dispatch(Conn c);        // parking thread -> ready queue (or 503)
  void WorkerLoop();
  void Serve(Conn c);           // on a worker: requests until idle, closed or a limit
  void Close(int fd);           // closes and uncounts
  void Reject(int fd, int status, const std::string& message);  // best-effort answer, then Close

  const ConnectionLimits limits_;
  std::atomic<int> open_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> rejected_busy_{0};
  std::atomic<uint64_t> header_timeouts_{0};
  int wake_fd_ = -1;  // eventfd: new parked connections or shutdown

  std::mutex mu_;
  std::condition_variable ready_cv_;
  std::vector<Conn> incoming_;  // GUARDED_BY(mu_): to be parked
  std::deque<Conn> ready_;      // GUARDED_BY(mu_): complete headers, waiting for a worker
  int idle_workers_ = 0;        // GUARDED_BY(mu_)
  bool shut_down_ = false;      // GUARDED_BY(mu_)

  std::thread parker_;
  std::vector<std::thread> workers_;
};

}  // namespace swarmkv
