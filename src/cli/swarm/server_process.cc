#include "cli/swarm/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <httplib.h>

namespace swarmkv::cli {
namespace {

uint64_t ProcStatusBytes(pid_t pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, key.size() + 1, key + ":") == 0) return std::stoull(line.substr(key.size() + 1)) * 1024;
  }
  return 0;
}

}  // namespace

int PickFreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop(5000).IgnoreError();
}

Status ServerProcess::Start(const ServerProcessOptions& options) {
  if (pid_ > 0) return FailedPreconditionError("server already started");
  port_ = options.port != 0 ? options.port : PickFreeLoopbackPort();
  if (port_ == 0) return IOError("no free loopback port");
  std::vector<std::string> argv_s = {options.binary};
  if (!options.subcommand.empty()) argv_s.push_back(options.subcommand);
  for (const char* a : {"--host", "127.0.0.1", "--port"}) argv_s.push_back(a);
  argv_s.push_back(std::to_string(port_));
  argv_s.insert(argv_s.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return IOError("fork failed");
  if (pid == 0) {
    // The server goes when the benchmark does (Ctrl-C, a crash): no orphan keeps the port and CPU.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (!options.log_path.empty()) {
      int fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
    }
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;

  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.ready_timeout_ms);
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(1, 0);
  client.set_read_timeout(5, 0);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive()) {
      pid_ = -1;
      return UnavailableError(options.binary + " exited during start-up (see " + options.log_path + ")");
    }
    auto res = client.Get(options.ready_path);
    if (res && res->status == 200) return Status::OK();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill();
  return UnavailableError(options.binary + " did not answer on port " + std::to_string(port_) + " in time");
}

bool ServerProcess::alive() const {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  return r == 0;
}

Status ServerProcess::Stop(int grace_ms) {
  if (pid_ <= 0) return Status::OK();
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t child = pid_;
    pid_t r = ::waitpid(child, &status, WNOHANG);
    if (r == child || r < 0) {
      pid_ = -1;
      if (r == child && WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return InternalError("server exited with code " + std::to_string(WEXITSTATUS(status)));
      return Status::OK();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return InternalError("server did not stop within " + std::to_string(grace_ms) + " ms; killed");
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

uint64_t ServerProcess::PeakRssBytes() const { return pid_ > 0 ? ProcStatusBytes(pid_, "VmHWM") : 0; }
uint64_t ServerProcess::RssBytes() const { return pid_ > 0 ? ProcStatusBytes(pid_, "VmRSS") : 0; }

}  // namespace swarmkv::cli
