// Time to first token through the real server: a long prompt computed cold, then from RAM, then
// after a clean restart (restored from the disk tier), each next to the cold baseline of the
// same run. Prints one JSON object per line.
//
//   restart_ttft_bench --model PATH [--words 1500] [--threads 2] [--kv-type f16] [--bin swarmkv]
//                      [--stop sigterm|kill9] [--num-ctx 8192] [--redis]
//
// Steps: serve with --kv-disk in a fresh temp dir; warm-up request (loads the model, shares no
// block with the prompt); the prompt cold; the same prompt again (RAM hit); SIGTERM (timed: the
// shutdown flush writes RAM's blocks to disk); serve again on the same dir; warm-up; the prompt
// (disk restore; the tier's files are pushed out of the page cache first). Replies are greedy and must be identical; the bench says so.
// --stop kill9: instead of SIGTERM, wait (bounded) until /metrics shows the prompt's full blocks
// written to disk by the idle write-through, then SIGKILL: no shutdown flush at all.
// --redis: a redis-server on a free loopback port is a second tier of both servers, and a third
// server with the disk tier off serves the prompt from Redis alone ("after_restart_redis").
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/testing.h"
#include "cli/swarm/agent_client.h"
#include "cli/swarm/server_process.h"
#include "redis_server.h"

namespace swarmkv {
namespace {

bool HasFlag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == name) return true;
  }
  return false;
}

std::string Arg(int argc, char** argv, const std::string& name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return def;
}

std::string Context(int words) {
  const char* w[] = {"the", "swarm", "reads", "one", "shared", "codebase", "and", "every", "agent", "asks",
                     "about", "a", "different", "file", "while", "the", "cache", "keeps", "its", "prefix"};
  std::string s;
  for (int i = 0; i < words; ++i) s += std::string(w[(i * 7 + i / 20) % 20]) + (i % 13 == 12 ? ".\n" : " ");
  return s;
}

// Pushes the tier's files out of the page cache (fdatasync + POSIX_FADV_DONTNEED), so the restart
// reads the disk, not RAM. Returns the files and bytes touched.
std::pair<int64_t, uint64_t> DropPageCache(const std::string& dir) {
  int64_t files = 0;
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
    ++files;
    bytes += e.file_size();
  }
  return {files, bytes};
}

int Main(int argc, char** argv) {
  const std::string model = Arg(argc, argv, "--model", "");
  if (model.empty()) {
    std::cerr << "usage: restart_ttft_bench --model PATH [--words N] [--threads T] [--kv-type f16] [--bin swarmkv]\n";
    return 2;
  }
  const std::string bin = Arg(argc, argv, "--bin", SWARMKV_BIN);
  const int words = std::stoi(Arg(argc, argv, "--words", "1500"));
  const std::string dir = testing::TempDir("restart-ttft");
  std::vector<std::string> args = {"--model", "m=" + model, "--no-ollama", "--kv-memory", "2GiB",
                                   "--kv-type", Arg(argc, argv, "--kv-type", "f16"), "--kv-disk", dir + "/kv",
                                   "--threads", Arg(argc, argv, "--threads", "2"), "--num-ctx",
                                   Arg(argc, argv, "--num-ctx", "8192")};
  std::unique_ptr<testing::RedisServer> redis;
  if (HasFlag(argc, argv, "--redis")) {
    std::string why;
    redis = testing::RedisServer::Start(&why);
    if (redis == nullptr) {
      std::cerr << "--redis: " << why << "\n";
      return 1;
    }
    args.insert(args.end(), {"--kv-redis", redis->url()});
  }
  cli::AgentRequest prompt{.model = "m",
                           .messages = {{.role = "system", .content = Context(words)}, {.role = "user", .content = "Summarise."}},
                           .num_predict = 4,
                           .seed = 1};
  cli::AgentRequest warmup{.model = "m", .messages = {{.role = "user", .content = "Hi"}}, .num_predict = 1, .seed = 1};

  auto start = [&](cli::ServerProcess* p, const std::string& log) {
    cli::ServerProcessOptions o{.binary = bin, .args = args, .log_path = dir + "/" + log};
    Status s = p->Start(o);
    if (!s.ok()) {
      std::cerr << "server: " << s.ToString() << "\n";
      std::exit(1);
    }
    cli::RunAgentRequest(p->port(), warmup);
  };
  auto emit = [](const std::string& step, const cli::AgentResult& r, double extra_restored = -1) {
    nlohmann::json j = {{"bench", "restart_ttft"}, {"step", step}, {"ttft_ms", r.ttft_ms},
                        {"prompt_tokens", r.prompt_tokens}, {"cached_tokens", r.cached_tokens}, {"ok", r.status.ok()}};
    if (extra_restored >= 0) j["restored_tokens_disk"] = extra_restored;
    std::cout << j.dump() << std::endl;
  };

  cli::ServerProcess a;
  start(&a, "a.log");
  cli::AgentResult cold = cli::RunAgentRequest(a.port(), prompt);
  emit("cold", cold);
  cli::AgentResult ram = cli::RunAgentRequest(a.port(), prompt);
  emit("ram_hit", ram);
  const auto t0 = std::chrono::steady_clock::now();
  auto since_t0 = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (Arg(argc, argv, "--stop", "sigterm") == "kill9") {
    // Written by the idle write-through (nothing is evicted under a 2GiB budget).
    const double want = static_cast<double>(cold.prompt_tokens / 32);
    double written = 0;
    while (since_t0() < 60) {
      auto m = cli::HttpGet(a.port(), "/metrics");
      written = m.ok() ? cli::PrometheusValue(*m, "swarmkv_kv_tier_written_blocks_total", "tier=\"disk\"") : 0;
      if (written >= want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::cout << nlohmann::json({{"bench", "restart_ttft"}, {"step", "write_through_wait"}, {"seconds", since_t0()},
                                 {"written_blocks", written}, {"prompt_full_blocks", want}}).dump() << std::endl;
    a.Kill();
    std::cout << nlohmann::json({{"bench", "restart_ttft"}, {"step", "kill9"}}).dump() << std::endl;
  } else {
    Status stopped = a.Stop(60000);
    std::cout << nlohmann::json({{"bench", "restart_ttft"}, {"step", "sigterm_shutdown"}, {"seconds", since_t0()},
                                 {"clean", stopped.ok()}}).dump() << std::endl;
  }

  const auto [files, bytes] = DropPageCache(dir + "/kv");
  std::cout << nlohmann::json({{"bench", "restart_ttft"}, {"step", "drop_page_cache"}, {"files", files},
                               {"bytes", bytes}}).dump() << std::endl;

  cli::ServerProcess b;
  start(&b, "b.log");
  cli::AgentResult disk = cli::RunAgentRequest(b.port(), prompt);
  auto metrics = cli::HttpGet(b.port(), "/metrics");
  const double restored = metrics.ok() ? cli::PrometheusValue(*metrics, "swarmkv_kv_restored_tokens_total", "tier=\"disk\"") : -1;
  emit("after_restart_disk", disk, restored);
  (void)b.Stop(60000);

  cli::AgentResult from_redis;
  if (redis != nullptr) {  // the same prompt from Redis alone: a server without the disk tier
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--kv-disk") args[i + 1] = "off";
    }
    cli::ServerProcess c;
    start(&c, "c.log");
    from_redis = cli::RunAgentRequest(c.port(), prompt);
    auto m = cli::HttpGet(c.port(), "/metrics");
    nlohmann::json j = {{"bench", "restart_ttft"}, {"step", "after_restart_redis"}, {"ttft_ms", from_redis.ttft_ms},
                        {"prompt_tokens", from_redis.prompt_tokens}, {"cached_tokens", from_redis.cached_tokens}, {"ok", from_redis.status.ok()},
                        {"restored_tokens_redis",
                         m.ok() ? cli::PrometheusValue(*m, "swarmkv_kv_restored_tokens_total", "tier=\"redis\"") : -1}};
    std::cout << j.dump() << std::endl;
    (void)c.Stop(60000);
  }

  const bool same = cold.text == ram.text && cold.text == disk.text && (redis == nullptr || cold.text == from_redis.text);
  std::cout << nlohmann::json({{"bench", "restart_ttft"}, {"step", "summary"}, {"words", words},
                               {"cold_ttft_ms", cold.ttft_ms}, {"ram_hit_ttft_ms", ram.ttft_ms},
                               {"after_restart_ttft_ms", disk.ttft_ms},
                               {"after_restart_redis_ttft_ms", redis != nullptr ? from_redis.ttft_ms : -1},
                               {"after_restart_over_cold", cold.ttft_ms > 0 ? disk.ttft_ms / cold.ttft_ms : 0},
                               {"replies_identical", same}}).dump() << std::endl;
  return same ? 0 : 1;
}

}  // namespace
}  // namespace swarmkv

int main(int argc, char** argv) { return swarmkv::Main(argc, argv); }
