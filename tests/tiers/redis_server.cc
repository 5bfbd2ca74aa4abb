#include "redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/testing.h"

namespace swarmkv::testing {
namespace {

bool Pings(int port) {
  timeval tv{0, 200'000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool ok = false;
  if (c != nullptr && !c->err) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    // A server started with --requirepass answers NOAUTH: up all the same.
    ok = r != nullptr && (r->type == REDIS_REPLY_STATUS ||
                          (r->type == REDIS_REPLY_ERROR && std::string(r->str, r->len).rfind("NOAUTH", 0) == 0));
    if (r) freeReplyObject(r);
  }
  if (c) redisFree(c);
  return ok;
}

}  // namespace

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string RedisCommandText(int port, const std::vector<std::string>& argv) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr || c->err) {
    if (c) redisFree(c);
    return "";
  }
  std::vector<const char*> a;
  std::vector<size_t> l;
  for (const auto& x : argv) a.push_back(x.data()), l.push_back(x.size());
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(a.size()), a.data(), l.data()));
  std::string out;
  if (r != nullptr) {
    if (r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
    else if (r->str != nullptr) out = std::string(r->str, r->len);
    freeReplyObject(r);
  }
  redisFree(c);
  return out;
}

bool AwaitClusterOk(const std::vector<int>& ports, std::string* why) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int port : ports) {
    while (RedisCommandText(port, {"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) {
        *why = "the cluster did not reach cluster_state:ok in 20 s";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling the cluster's own state
    }
  }
  return true;
}

std::string RedisServerBinary() {
  for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

std::unique_ptr<RedisServer> RedisServer::Start(std::string* why, const std::string& extra_args) {
  if (RedisServerBinary().empty()) {
    *why = "redis-server is not installed (apt-get install redis-server)";
    return nullptr;
  }
  std::unique_ptr<RedisServer> s(new RedisServer());
  s->dir_ = TempDir("swarmkv-redis");
  s->extra_args_ = extra_args;
  s->port_ = FreeLoopbackPort();
  if (s->port_ == 0 || !s->Launch(why)) return nullptr;
  return s;
}

std::unique_ptr<RedisServer> RedisServer::StartTls(std::string* why, const std::string& tls_args,
                                                   const std::string& extra_args) {
  const int tls_port = FreeLoopbackPort();
  if (tls_port == 0) {
    *why = "no free loopback port";
    return nullptr;
  }
  auto s = Start(why, "--tls-port " + std::to_string(tls_port) + " " + tls_args + " " + extra_args);
  if (s) s->tls_port_ = tls_port;
  return s;
}

bool RedisServer::Launch(std::string* why) {
  std::vector<std::string> args = {RedisServerBinary(), "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", dir_, "--daemonize", "no",
                                   "--loglevel", "warning"};
  std::istringstream extra(extra_args_);
  for (std::string a; extra >> a;) args.push_back(a);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Pings(port_)) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *why = "redis-server exited at start";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  *why = "redis-server did not answer PING within 10 s";
  return false;
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool RedisServer::Restart(std::string* why) {
  Kill();
  return Launch(why);
}

RedisServer::~RedisServer() { Kill(); }

}  // namespace swarmkv::testing
