// `swarmkv swarm-bench`: the swarm scenario of the demo, with parameters.
//
// Modes, each on a fresh `swarmkv serve` child over loopback HTTP (Ollama /api/chat, streamed):
//   one_agent        one agent alone, cold: the cost of the shared context computed once
//   shared           N agents at once, same shared context + own task, prefix cache on
//   no_prefix_cache  the same N agents with --no-prefix-cache: what Ollama/llama.cpp pay today
//   after_restart    the shared server restarted (same disk tier), one more agent: TTFT from disk
// --pin: in each mode with the prefix cache the shared context is pinned first (the server
// preloads it; after a restart it restores the pin from disk) and the agents start once it is
// resident; the table shows the pin's time and whether the agents' prompts were restored or reused.
// Writes swarm-bench.json and swarm-bench.svg into --out and prints a table; the JSON has one
// object per mode plus the ratios the project tracks ("checks"). It measures, it does not fail
// on slow numbers: only a failed request or server makes the exit code non-zero.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "base/env.h"
#include "base/sysinfo.h"
#include "base/units.h"
#include "cli/command.h"
#include "cli/swarm/agent_client.h"
#include "cli/swarm/report.h"
#include "cli/swarm/server_process.h"
#include "cli/swarm/workload.h"
#include "gguf/gguf_file.h"
#include "model/hparams.h"
#include "model/synthetic_model.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv::cli {
namespace {

struct SwarmOptions {
  int agents = 10;
  int64_t prefix_tokens = 8192;
  int suffix_tokens = 64;
  int num_predict = 16;
  std::string model;
  std::string shape = "smollm2-135m";  // the built-in model's shape when --model is not given
  std::string kv_memory = "4GiB";
  std::string kv_type = "f16";
  std::string json_path;
  std::string out_dir;
  int threads = 0;
  uint64_t seed = 1;
  std::string modes = "one_agent,shared,no_prefix_cache,after_restart";
  bool pin = false;  // pin the shared context before the agents start (modes with the prefix cache)
};

std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "swarmkv";
}

std::string CacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg) return JoinPath(xdg, "swarmkv");
  const char* home = std::getenv("HOME");
  return JoinPath(home && *home ? home : "/tmp", ".cache/swarmkv");
}

// The built-in synthetic model of this shape (Q8_0, seed 1), generated on first use.
Result<std::string> DefaultModel(const std::string& shape) {
  SKV_RETURN_IF_ERROR(FindSyntheticShape(shape).status());
  std::string dir = JoinPath(CacheDir(), "models");
  // v2: 16k context (v1 files said 8k, too short for the default 8k-token context + tasks).
  std::string path = JoinPath(dir, "synthetic-" + shape + "-q8_0-seed1-v2.gguf");
  if (Env::Default()->FileExists(path)) return path;
  SKV_RETURN_IF_ERROR(Env::Default()->CreateDirs(dir));
  std::cerr << "swarm-bench: generating the built-in model " << path << "\n";
  std::string tmp = path + ".partial";
  std::string cmd = "'" + SelfExe() + "' make-model --shape " + shape + " --type q8_0 --seed 1 -o '" + tmp + "'";
  if (std::system(cmd.c_str()) != 0) return InternalError("make-model failed: " + cmd);
  SKV_RETURN_IF_ERROR(Env::Default()->RenameFile(tmp, path));
  return path;
}

struct ModeSpec {
  std::string name;
  int agents;
  int first_task_index;
  bool prefix_cache;
};

class Swarm {
 public:
  Swarm(SwarmOptions opts, std::string model, std::string out_dir)
      : opts_(std::move(opts)), model_(std::move(model)), out_dir_(std::move(out_dir)) {
    disk_dir_ = JoinPath(out_dir_, "kv-disk");
    // Sized with the model's own tokenizer, so --prefix-tokens means tokens of this model.
    auto tokenizer = Tokenizer::Load(model_);
    if (!tokenizer.ok())
      std::cerr << "swarm-bench: " << tokenizer.status().ToString() << "; sizing the context by estimate\n";
    std::function<int64_t(const std::string&)> count;
    if (tokenizer.ok())
      count = [t = tokenizer->get()](const std::string& text) { return static_cast<int64_t>(t->Encode(text).size()); };
    context_ = MakeSharedContext(opts_.seed, opts_.prefix_tokens, count);
    // The context each agent asks for: its prompt (context + task + chat template) and answer,
    // with room to spare, rounded up to 1024.
    const int64_t context_tokens = count ? count(context_) : static_cast<int64_t>(context_.size() / 3);
    const int64_t need = context_tokens + 4 * opts_.suffix_tokens + opts_.num_predict + 256;
    num_ctx_ = static_cast<int32_t>((need + 1023) / 1024 * 1024);
    for (int i = 0; i <= opts_.agents; ++i) tasks_.push_back(MakeAgentTask(opts_.seed, i, opts_.suffix_tokens / 2));
  }

  int32_t num_ctx() const { return num_ctx_; }

  std::vector<std::string> ServerArgs(bool prefix_cache, const std::string& disk_dir) const {
    std::vector<std::string> args = {"--model", "swarm=" + model_, "--kv-memory", opts_.kv_memory,
                                     "--kv-type", opts_.kv_type, "--kv-disk", disk_dir};
    if (!prefix_cache) args.push_back("--no-prefix-cache");
    if (opts_.threads > 0) {
      args.push_back("--threads");
      args.push_back(std::to_string(opts_.threads));
    }
    return args;
  }

  Status StartServer(ServerProcess* server, bool prefix_cache, const std::string& disk_dir, const std::string& tag) {
    ServerProcessOptions so;
    so.binary = SelfExe();
    so.args = ServerArgs(prefix_cache, disk_dir);
    so.log_path = JoinPath(out_dir_, "server-" + tag + ".log");
    return server->Start(so);
  }

  // --pin: pins the shared context as the agents' chat renders it (a system message) and waits
  // until it is resident. After a restart the server is already restoring it; asking again joins.
  void PinContext(ServerProcess* server, ModeResult* r) {
    const nlohmann::json body = {{"model", "swarm"},
                                 {"name", "swarm-context"},
                                 {"messages", {{{"role", "system"}, {"content", context_}}}},
                                 {"ttl", "1h"}};
    const auto start = std::chrono::steady_clock::now();
    auto out = HttpPost(server->port(), "/api/kv/pin", body.dump());
    r->pin.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!out.ok()) {
      r->errors.push_back("pin: " + out.status().ToString());
      return;
    }
    const nlohmann::json j = nlohmann::json::parse(*out, nullptr, false);
    if (j.is_discarded() || !j.contains("tokens")) {
      r->errors.push_back("pin: unexpected answer " + *out);
      return;
    }
    r->pin.done = true;
    r->pin.tokens = j.value("tokens", int64_t{0});
    r->pin.reused = j.value("reused", int64_t{0});
    r->pin.restored = j.value("restored", int64_t{0});
    r->pin.computed = j.value("computed", int64_t{0});
  }

  // Runs `spec.agents` agents at once against `server` and measures them.
  ModeResult RunAgents(ServerProcess* server, const ModeSpec& spec) {
    ModeResult r;
    r.name = spec.name;
    r.agents = spec.agents;
    if (opts_.pin && spec.prefix_cache) PinContext(server, &r);
    auto before = HttpGet(server->port(), "/metrics");
    double computed0 = before.ok() ? PrometheusValue(*before, "swarmkv_prompt_tokens_computed_total") : 0;
    double reused0 = before.ok() ? PrometheusValue(*before, "swarmkv_prompt_tokens_reused_total") : 0;
    double restored0 = before.ok() ? PrometheusValue(*before, "swarmkv_kv_restored_tokens_total") : 0;

    std::atomic<bool> sampling{true};
    std::atomic<uint64_t> peak_kv{0};
    std::thread sampler([&] {
      while (sampling.load()) {
        auto m = HttpGet(server->port(), "/metrics");
        if (m.ok()) {
          auto kv = static_cast<uint64_t>(PrometheusValue(*m, "swarmkv_kv_bytes", "tier=\"ram\""));
          if (kv > peak_kv.load()) peak_kv.store(kv);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });

    std::vector<AgentResult> results(spec.agents);
    std::vector<std::thread> threads;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < spec.agents; ++i) {
      threads.emplace_back([&, i] {
        AgentRequest req;
        req.model = "swarm";
        req.system = context_;
        req.user = tasks_[static_cast<size_t>(spec.first_task_index + i)];
        req.num_predict = opts_.num_predict;
        req.num_ctx = num_ctx_;
        req.seed = opts_.seed;
        results[static_cast<size_t>(i)] = RunAgent(server->port(), req);
      });
    }
    for (auto& t : threads) t.join();
    r.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    // One last sample after the answers: cached blocks stay resident.
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    sampling = false;
    sampler.join();

    for (const auto& a : results) {
      if (!a.status.ok()) r.errors.push_back(a.status.ToString());
      r.ttft_ms.push_back(a.ttft_ms);
      r.total_ms.push_back(a.total_ms);
      r.prompt_tokens += a.prompt_eval_count;
      r.generated_tokens += a.eval_count;
    }
    auto after = HttpGet(server->port(), "/metrics");
    if (after.ok()) {
      r.prompt_tokens_computed =
          static_cast<int64_t>(PrometheusValue(*after, "swarmkv_prompt_tokens_computed_total") - computed0);
      r.prompt_tokens_reused =
          static_cast<int64_t>(PrometheusValue(*after, "swarmkv_prompt_tokens_reused_total") - reused0);
      r.prompt_tokens_restored =
          static_cast<int64_t>(PrometheusValue(*after, "swarmkv_kv_restored_tokens_total") - restored0);
    } else {
      r.errors.push_back("metrics: " + after.status().ToString());
    }
    r.peak_kv_bytes = peak_kv.load();
    r.peak_rss_bytes = server->PeakRssBytes();
    return r;
  }

  Result<std::vector<ModeResult>> Run() {
    std::vector<ModeResult> modes;
    auto wants = [&](const std::string& m) { return opts_.modes.find(m) != std::string::npos; };
    if (wants("one_agent")) {
      ServerProcess server;
      SKV_RETURN_IF_ERROR(StartServer(&server, true, JoinPath(out_dir_, "kv-disk-one"), "one_agent"));
      modes.push_back(RunAgents(&server, {"one_agent", 1, 0, true}));
      SKV_RETURN_IF_ERROR(server.Stop());
      Report(modes.back());
    }
    if (wants("shared") || wants("after_restart")) {
      ServerProcess server;
      SKV_RETURN_IF_ERROR(StartServer(&server, true, disk_dir_, "shared"));
      modes.push_back(RunAgents(&server, {"shared", opts_.agents, 0, true}));
      SKV_RETURN_IF_ERROR(server.Stop());
      Report(modes.back());
    }
    if (wants("no_prefix_cache")) {
      ServerProcess server;
      SKV_RETURN_IF_ERROR(StartServer(&server, false, JoinPath(out_dir_, "kv-disk-off"), "no_prefix_cache"));
      modes.push_back(RunAgents(&server, {"no_prefix_cache", opts_.agents, 0, false}));
      SKV_RETURN_IF_ERROR(server.Stop());
      Report(modes.back());
    }
    if (wants("after_restart")) {
      ServerProcess server;
      SKV_RETURN_IF_ERROR(StartServer(&server, true, disk_dir_, "after_restart"));
      modes.push_back(RunAgents(&server, {"after_restart", 1, opts_.agents, true}));
      SKV_RETURN_IF_ERROR(server.Stop());
      Report(modes.back());
    }
    return modes;
  }

 private:
  void Report(const ModeResult& m) {
    std::cerr << "swarm-bench: " << m.name << " done in " << static_cast<int64_t>(m.wall_ms) << " ms"
              << (m.errors.empty() ? "" : " with errors") << "\n";
  }

  SwarmOptions opts_;
  std::string model_;
  std::string out_dir_;
  std::string disk_dir_;
  std::string context_;
  int32_t num_ctx_ = 0;
  std::vector<std::string> tasks_;
};

const ModeResult* FindMode(const std::vector<ModeResult>& modes, const std::string& name) {
  for (const auto& m : modes)
    if (m.name == name) return &m;
  return nullptr;
}

nlohmann::json Checks(const std::vector<ModeResult>& modes, const SwarmOptions& opts) {
  nlohmann::json checks = nlohmann::json::object();
  const ModeResult* one = FindMode(modes, "one_agent");
  const ModeResult* shared = FindMode(modes, "shared");
  const ModeResult* off = FindMode(modes, "no_prefix_cache");
  const ModeResult* restart = FindMode(modes, "after_restart");
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  if (one && shared) {
    // The shared prefix is computed once: the N agents compute one context plus N tasks.
    checks["shared_computed_over_one_agent"] =
        ratio(static_cast<double>(shared->prompt_tokens_computed), static_cast<double>(one->prompt_tokens_computed));
    checks["peak_kv_shared_over_one_agent"] =
        ratio(static_cast<double>(shared->peak_kv_bytes), static_cast<double>(one->peak_kv_bytes));
    checks["wall_shared_over_one_agent"] = ratio(shared->wall_ms, one->wall_ms);
  }
  if (shared && off) {
    checks["computed_no_cache_over_shared"] =
        ratio(static_cast<double>(off->prompt_tokens_computed), static_cast<double>(shared->prompt_tokens_computed));
    checks["wall_no_cache_over_shared"] = ratio(off->wall_ms, shared->wall_ms);
    checks["peak_kv_no_cache_over_shared"] =
        ratio(static_cast<double>(off->peak_kv_bytes), static_cast<double>(shared->peak_kv_bytes));
  }
  if (restart && one && !restart->ttft_ms.empty() && !one->ttft_ms.empty())
    checks["ttft_after_restart_over_recompute"] = ratio(restart->ttft_ms[0], one->ttft_ms[0]);
  return checks;
}

int RunSwarmBench(SwarmOptions opts) {
  std::string model = opts.model;
  if (model.empty()) {
    auto m = DefaultModel(opts.shape);
    if (!m.ok()) {
      std::cerr << "swarm-bench: " << m.status().ToString() << "\n";
      return 1;
    }
    model = *m;
  }
  std::string out = opts.out_dir;
  if (out.empty()) out = "swarm-bench-out/" + std::to_string(std::time(nullptr));
  if (Status s = Env::Default()->CreateDirs(out); !s.ok()) {
    std::cerr << "swarm-bench: " << s.ToString() << "\n";
    return 1;
  }
  std::cerr << "swarm-bench: " << opts.agents << " agents, ~" << opts.prefix_tokens << " shared tokens, model "
            << model << ", output " << out << "\n";
  Swarm swarm(opts, model, out);
  if (auto gguf = GgufFile::Open(model); gguf.ok()) {
    auto hp = ModelHParams::FromGguf(**gguf);
    if (hp.ok() && static_cast<int64_t>(hp->n_ctx_train) < swarm.num_ctx()) {
      std::cerr << "swarm-bench: the shared context plus each agent's task needs a context of " << swarm.num_ctx()
                << " tokens but the model's is " << hp->n_ctx_train << ": lower --prefix-tokens\n";
      return 2;
    }
  }
  auto modes = swarm.Run();
  if (!modes.ok()) {
    std::cerr << "swarm-bench: " << modes.status().ToString() << "\n";
    return 1;
  }
  nlohmann::json j = {{"config",
                       {{"agents", opts.agents},
                        {"prefix_tokens", opts.prefix_tokens},
                        {"suffix_tokens", opts.suffix_tokens},
                        {"num_predict", opts.num_predict},
                        {"model", model},
                        {"kv_memory", opts.kv_memory},
                        {"kv_type", opts.kv_type},
                        {"threads", opts.threads},
                        {"pin", opts.pin}}}};
  bool failed = false;
  for (const auto& m : *modes) {
    j[m.name] = m.ToJson();
    failed |= !m.errors.empty();
  }
  j["checks"] = Checks(*modes, opts);
  std::string json_path = opts.json_path.empty() ? JoinPath(out, "swarm-bench.json") : opts.json_path;
  std::string svg_path = JoinPath(out, "swarm-bench.svg");
  Status s = Env::Default()->WriteFileAtomic(json_path, j.dump(2) + "\n", false);
  if (s.ok()) s = Env::Default()->WriteFileAtomic(svg_path, RenderSvg(*modes, "swarmkv swarm-bench: " +
                                                                      std::to_string(opts.agents) + " agents"), false);
  if (!s.ok()) {
    std::cerr << "swarm-bench: " << s.ToString() << "\n";
    return 1;
  }
  std::cout << RenderTable(*modes) << "\nchecks: " << j["checks"].dump() << "\n"
            << "results: " << json_path << "\nchart:   " << svg_path << "\n";
  return failed ? 1 : 0;
}

CommandRegistrar reg("swarm-bench",
                     "N agents share one long context over the HTTP API: prefix sharing vs none vs restart",
                     [](CLI::App& app) -> CommandRun {
                       auto o = std::make_shared<SwarmOptions>();
                       app.add_option("--agents", o->agents, "Concurrent agents")->check(CLI::Range(1, 256));
                       app.add_option("--prefix-tokens", o->prefix_tokens, "Shared context length in tokens")
                           ->check(CLI::Range(int64_t{16}, int64_t{1} << 20));
                       app.add_option("--suffix-tokens", o->suffix_tokens, "Each agent's own task length")
                           ->check(CLI::Range(1, 1 << 16));
                       app.add_option("-n,--num-predict", o->num_predict, "Tokens each agent generates");
                       app.add_option("--model", o->model, "GGUF model (default: the built-in synthetic model, --shape)");
                       app.add_option("--shape", o->shape,
                                      "Shape of the built-in model: smollm2-135m (the benchmark's), smollm2-demo "
                                      "(6 layers, what the demo runs), qwen2.5-0.5b, ...");
                       app.add_option("--kv-memory", o->kv_memory, "KV budget of the server");
                       app.add_option("--kv-type", o->kv_type, "KV dtype (f16, bf16, q8_0, q4_0)");
                       app.add_option("--json", o->json_path, "Also write the JSON here");
                       app.add_option("--out", o->out_dir, "Output directory (default swarm-bench-out/<time>)");
                       app.add_option("-t,--threads", o->threads, "Server threads (default: physical cores)");
                       app.add_option("--seed", o->seed, "Workload seed");
                       app.add_option("--modes", o->modes, "Comma-separated subset of one_agent,shared,no_prefix_cache,after_restart");
                       app.add_flag("--pin", o->pin,
                                    "Pin the shared context (POST /api/kv/pin, until resident) before the agents "
                                    "start, in every mode with the prefix cache; the table shows the pin's time");
                       return [o] { return RunSwarmBench(*o); };
                     });

}  // namespace
}  // namespace swarmkv::cli
