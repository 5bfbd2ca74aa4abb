#include "server/connection_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <nlohmann/json.hpp>

namespace swarmkv {

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kMs = 1000000;

// Milliseconds until `deadline_ns`, at least 0, at most `cap_ms`.
int MsUntil(int64_t deadline_ns, int64_t now_ns, int cap_ms) {
  int64_t ms = (deadline_ns - now_ns + kMs - 1) / kMs;
  return static_cast<int>(std::clamp<int64_t>(ms, 0, cap_ms));
}

// Where the header block in `buf` ends (just past CRLFCRLF), searching from about `from`; 0 if not yet.
size_t HeaderEnd(const std::string& buf, size_t from) {
  size_t start = from >= 3 ? from - 3 : 0;
  size_t pos = buf.find("\r\n\r\n", start);
  return pos == std::string::npos ? 0 : pos + 4;
}

void AddressOf(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

// httplib's view of one connection: the bytes the parking thread already read, then the socket.
// Header phase: only buffered bytes (the parking thread guaranteed the whole header block is
// there). Body phase: socket reads under the per-read and the total body deadline.
class GuardedStream : public httplib::Stream {
 public:
  GuardedStream(int fd, std::string buffered, const ConnectionLimits& limits)
      : fd_(fd), buf_(std::move(buffered)), limits_(limits) {}

  void StartRequest() {
    header_phase_ = true;
    close_after_ = false;
  }
  void HeadersDone() {
    header_phase_ = false;
    body_deadline_ns_ = NowNs() + int64_t{limits_.body_timeout_ms} * kMs;
  }
  bool HasCompleteHeaders() const { return HeaderEnd(buf_.substr(pos_), 0) != 0; }
  std::string TakeBuffered() {
    std::string rest = buf_.substr(pos_);
    buf_.clear();
    pos_ = 0;
    return rest;
  }
  bool close_after() const { return close_after_; }
  void set_close_after() { close_after_ = true; }

  bool PeerGone() const {
    pollfd p{fd_, static_cast<short>(POLLIN | POLLRDHUP), 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }

  bool is_readable() const override {
    if (pos_ < buf_.size()) return true;
    if (header_phase_) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, MsUntil(body_deadline_ns_, NowNs(), limits_.read_timeout_ms)) > 0;
  }
  bool is_writable() const override {
    pollfd p{fd_, POLLOUT, 0};
    return ::poll(&p, 1, limits_.write_timeout_ms) > 0 && !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
  }
  ssize_t read(char* ptr, size_t size) override {
    if (pos_ >= buf_.size()) {
      buf_.clear();
      pos_ = 0;
      if (header_phase_) return -1;  // headers end within the buffer; reading on would be unbounded
      int64_t now = NowNs();
      if (now >= body_deadline_ns_) return -1;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, MsUntil(body_deadline_ns_, now, limits_.read_timeout_ms)) <= 0) return -1;
      buf_.resize(16 << 10);
      ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (n <= 0) {
        buf_.clear();
        return n == 0 ? 0 : -1;
      }
      buf_.resize(static_cast<size_t>(n));
    }
    size_t n = std::min(size, buf_.size() - pos_);
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    return ::send(fd_, ptr, size, MSG_NOSIGNAL);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) AddressOf(addr, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) AddressOf(addr, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  const int fd_;
  std::string buf_;
  size_t pos_ = 0;
  const ConnectionLimits& limits_;
  bool header_phase_ = true;
  int64_t body_deadline_ns_ = 0;
  bool close_after_ = false;
};

thread_local GuardedStream* t_current = nullptr;

// In-memory connection for ServeBuffer.
class BufferStream : public httplib::Stream {
 public:
  BufferStream(const std::string& in, std::string* out) : in_(in), out_(out) {}
  bool has_input() const { return pos_ < in_.size(); }
  bool is_readable() const override { return has_input(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_->append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 11434;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  const std::string& in_;
  size_t pos_ = 0;
  std::string* out_;
};

// httplib hands each accepted socket to a task queue; this one parks it at once on the listener
// thread (GuardedHttpServer::process_and_close_socket does not block).
class ParkingTaskQueue : public httplib::TaskQueue {
 public:
  explicit ParkingTaskQueue(GuardedHttpServer* server) : server_(server) {}
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { server_->Shutdown(); }

 private:
  GuardedHttpServer* server_;
};

}  // namespace

bool ClientDisconnected() { return t_current != nullptr && t_current->PeerGone(); }

void CloseConnectionAfterResponse() {
  if (t_current != nullptr) t_current->set_close_after();
}

GuardedHttpServer::GuardedHttpServer(ConnectionLimits limits) : limits_(limits) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  new_task_queue = [this] { return new ParkingTaskQueue(this); };
  parker_ = std::thread([this] { ParkLoop(); });
  for (int i = 0; i < std::max(1, limits_.worker_threads); ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

GuardedHttpServer::~GuardedHttpServer() {
  Shutdown();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void GuardedHttpServer::Shutdown() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t w = ::write(wake_fd_, &one, sizeof(one));
  ready_cv_.notify_all();
  if (parker_.joinable()) parker_.join();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  std::lock_guard<std::mutex> l(mu_);
  for (Conn& c : ready_) Close(c.fd);
  ready_.clear();
  for (Conn& c : incoming_) Close(c.fd);
  incoming_.clear();
}

std::string GuardedHttpServer::ServeBuffer(const std::string& request) {
  std::string out;
  BufferStream strm(request, &out);
  for (int i = 0; i < 16 && strm.has_input(); ++i) {
    bool connection_closed = false;
    if (!process_request(strm, false, connection_closed, nullptr) || connection_closed) break;
  }
  return out;
}

void GuardedHttpServer::RaiseListenBacklog(int backlog) {
  socket_t fd = svr_sock_;
  if (fd != INVALID_SOCKET) ::listen(fd, backlog);  // Linux: listen() again updates the backlog
}

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
  if (open_.fetch_add(1) >= limits_.max_connections) {
    rejected_busy_.fetch_add(1);
    Reject(sock, 503, "server busy: " + std::to_string(limits_.max_connections) + " connections open; retry later");
    return true;
  }
  Conn c;
  c.fd = sock;
  c.idle = false;  // the header deadline runs from the accept
  c.deadline_ns = NowNs() + int64_t{limits_.header_timeout_ms} * kMs;
  Park(std::move(c));
  return true;
}

void GuardedHttpServer::Park(Conn c) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!shut_down_) {
      incoming_.push_back(std::move(c));
      c.fd = -1;
    }
  }
  if (c.fd >= 0) return Close(c.fd);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t w = ::write(wake_fd_, &one, sizeof(one));
}

void GuardedHttpServer::ParkLoop() {
  std::vector<Conn> parked;
  std::vector<pollfd> fds;
  while (true) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (shut_down_) break;
      for (Conn& c : incoming_) parked.push_back(std::move(c));
      incoming_.clear();
    }
    int64_t now = NowNs();
    int timeout_ms = 1000;
    fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
    for (const Conn& c : parked) {
      fds.push_back(pollfd{c.fd, POLLIN, 0});
      timeout_ms = std::min(timeout_ms, MsUntil(c.deadline_ns, now, 1000));
    }
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_, &v, sizeof(v));
    }
    now = NowNs();
    std::vector<Conn> keep;
    keep.reserve(parked.size());
    for (size_t i = 0; i < parked.size(); ++i) {
      Conn& c = parked[i];
      if (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
        char tmp[8192];
        ssize_t got = ::recv(c.fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          Close(c.fd);
          continue;
        }
        if (got > 0) {
          size_t old = c.buffered.size();
          c.buffered.append(tmp, static_cast<size_t>(got));
          if (c.idle) {  // first byte of the next request on a kept-alive connection
            c.idle = false;
            c.deadline_ns = now + int64_t{limits_.header_timeout_ms} * kMs;
          }
          size_t end = HeaderEnd(c.buffered, old);
          if (end != 0 && end <= limits_.max_header_bytes) {
            Dispatch(std::move(c));
            continue;
          }
          if (end != 0 || c.buffered.size() > limits_.max_header_bytes) {
            Reject(c.fd, 431, "request headers are larger than the limit of " +
                                  std::to_string(limits_.max_header_bytes) + " bytes");
            continue;
          }
        }
      }
      if (now >= c.deadline_ns) {
        if (c.idle) {
          Close(c.fd);  // an idle keep-alive connection: nothing to answer
        } else {
          header_timeouts_.fetch_add(1);
          Reject(c.fd, 408, "request headers not received within " + std::to_string(limits_.header_timeout_ms) + " ms");
        }
        continue;
      }
      keep.push_back(std::move(c));
    }
    parked.swap(keep);
  }
  for (Conn& c : parked) Close(c.fd);
}

void GuardedHttpServer::Dispatch(Conn c) {
  {
    std::lock_guard<std::mutex> l(mu_);
    // A bounded wait for a worker: as many waiting as there are workers; beyond that, 503 now.
    if (!shut_down_ && ready_.size() < static_cast<size_t>(std::max(1, limits_.worker_threads))) {
      ready_.push_back(std::move(c));
      ready_cv_.notify_one();
      return;
    }
  }
  rejected_busy_.fetch_add(1);
  Reject(c.fd, 503, "server busy: all " + std::to_string(limits_.worker_threads) + " workers are serving; retry later");
}

void GuardedHttpServer::WorkerLoop() {
  while (true) {
    Conn c;
    {
      std::unique_lock<std::mutex> l(mu_);
      ready_cv_.wait(l, [this] { return shut_down_ || !ready_.empty(); });
      if (shut_down_) return;
      c = std::move(ready_.front());
      ready_.pop_front();
    }
    Serve(std::move(c));
  }
}

void GuardedHttpServer::Serve(Conn c) {
  GuardedStream strm(c.fd, std::move(c.buffered), limits_);
  t_current = &strm;
  bool keep = false;
  while (true) {
    const bool last = stopping_.load() || c.served + 1 >= limits_.keep_alive_max_requests;
    bool connection_closed = false;
    strm.StartRequest();
    bool ok = process_request(strm, last, connection_closed, [&strm](httplib::Request&) { strm.HeadersDone(); });
    ++c.served;
    if (!ok || connection_closed || last || strm.close_after()) break;
    if (strm.HasCompleteHeaders()) continue;  // a pipelined request is already here
    keep = true;
    break;
  }
  t_current = nullptr;
  if (!keep) return Close(c.fd);
  c.buffered = strm.TakeBuffered();
  c.idle = c.buffered.empty();
  c.deadline_ns = NowNs() + int64_t{c.idle ? limits_.keep_alive_timeout_ms : limits_.header_timeout_ms} * kMs;
  Park(std::move(c));
}

void GuardedHttpServer::Close(int fd) {
  ::close(fd);
  open_.fetch_sub(1);
}

void GuardedHttpServer::Reject(int fd, int status, const std::string& message) {
  const char* reason = status == 503 ? "Service Unavailable"
                       : status == 431 ? "Request Header Fields Too Large"
                       : status == 408 ? "Request Timeout"
                                       : "Error";
  std::string body = nlohmann::json{{"error", message}}.dump();
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                    "\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n";
  if (status == 503) out += "Retry-After: " + std::to_string(limits_.retry_after_s) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  // Best effort, never blocking: this runs on the listener or the parking thread.
  [[maybe_unused]] ssize_t w = ::send(fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  // Read what the client already sent, so closing does not reset the connection before it
  // reads the answer.
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; ++i) {
  }
  Close(fd);
}

}  // namespace swarmkv
