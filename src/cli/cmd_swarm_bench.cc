// `swarmkv swarm-bench`: the swarm scenario of the demo, with parameters — agents in a loop.
//
// Each agent reads a shared codebase (--distinct-prefixes K: agent i reads codebase i mod K) and
// runs --turns turns over loopback HTTP (OpenAI-style streamed completions, agent_loop.h): it asks,
// streams --num-predict tokens, appends its answer and a --tool-tokens tool result, and asks again
// with the grown conversation — a prefix-cache hit on its own history.
// Modes, each on a fresh server child:
//   one_agent        one agent alone, cold: the cost of the shared context computed once
//   shared           N agents at once, prefix cache on
//   no_prefix_cache  the same N agents with --no-prefix-cache: every prompt computed in full
//   after_restart    the shared server restarted (same disk tier), one more agent: TTFT from disk
//   llama_server     (--llama-server PATH) the N agents against llama.cpp's llama-server, same
//                    model file and threads, one slot per agent and its prompt cache
// --pin: in each swarmkv mode with the prefix cache the shared contexts are pinned first (the
// server preloads them; after a restart it restores the pins from disk) and the agents start once
// they are resident; the table shows the pin's time.
// Writes swarm-bench.json and swarm-bench.svg into --out and prints a table; the JSON has one
// object per mode plus the ratios the project tracks ("checks"). It measures, it does not fail
// on slow numbers: only a failed request or server makes the exit code non-zero.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/env.h"
#include "base/sysinfo.h"
#include "base/units.h"
#include "cli/command.h"
#include "cli/swarm/agent_client.h"
#include "cli/swarm/agent_loop.h"
#include "cli/swarm/llama_server.h"
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
  int num_predict = 256;
  int turns = 4;
  int64_t tool_tokens = 512;
  int distinct_prefixes = 1;
  std::string answers = "stand-in";  // or "server": append the server's own text
  std::string model;
  std::string shape = "smollm2-135m";  // the built-in model's shape when --model is not given
  std::string kv_memory = "4GiB";
  std::string kv_type = "f16";
  std::string json_path;
  std::string out_dir;
  int threads = 0;
  uint64_t seed = 1;
  std::string modes;  // empty: every mode (llama_server when --llama-server is given)
  bool pin = false;  // pin the shared contexts before the agents start (modes with the prefix cache)
  std::string llama_server;       // path of llama.cpp's llama-server
  std::string llama_server_args;  // extra arguments for it, split at spaces
};

const char* const kModes[] = {"one_agent", "shared", "no_prefix_cache", "after_restart", "llama_server"};

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
  int first_agent;  // agents first_agent .. first_agent + agents - 1 of the scripts
  bool prefix_cache;
};

class Swarm {
 public:
  Swarm(SwarmOptions opts, std::string model, std::string out_dir)
      : opts_(std::move(opts)), model_(std::move(model)), out_dir_(std::move(out_dir)) {
    disk_dir_ = JoinPath(out_dir_, "kv-disk");
    // Sized with the model's own tokenizer, so token counts mean tokens of this model.
    auto tokenizer = Tokenizer::Load(model_);
    if (!tokenizer.ok())
      std::cerr << "swarm-bench: " << tokenizer.status().ToString() << "; sizing the workload by estimate\n";
    CountTokensFn count;
    if (tokenizer.ok())
      count = [t = tokenizer->get()](const std::string& text) { return static_cast<int64_t>(t->Encode(text).size()); };
    int64_t context_tokens = 0;
    for (int k = 0; k < opts_.distinct_prefixes; ++k) {
      contexts_.push_back(std::make_shared<const std::string>(MakeSharedContext(opts_.seed, opts_.prefix_tokens, count, k)));
      context_tokens = std::max(context_tokens, count ? count(*contexts_.back())
                                                      : static_cast<int64_t>(contexts_.back()->size() / 3));
    }
    AgentScriptOptions so;
    so.seed = opts_.seed;
    so.turns = opts_.turns;
    so.suffix_tokens = opts_.suffix_tokens;
    so.tool_tokens = opts_.tool_tokens;
    so.answer_tokens = opts_.num_predict;
    // Agents 0..N-1 run in the N-agent modes, agent N after the restart.
    for (int i = 0; i <= opts_.agents; ++i) {
      const int k = CodebaseOfAgent(i, opts_.distinct_prefixes);
      scripts_.push_back(MakeAgentScript(i, k, contexts_[static_cast<size_t>(k)], so, count));
    }
    // The context each agent asks for: its last turn's prompt (context, task, earlier answers and
    // tool results, chat template) and answer, with room to spare, rounded up to 1024. The
    // server's own text may re-tokenize longer than it was generated.
    const int64_t answer_budget = opts_.answers == "server" ? 2 * opts_.num_predict : opts_.num_predict;
    const int64_t need = context_tokens + 4 * opts_.suffix_tokens +
                         (opts_.turns - 1) * (answer_budget + opts_.tool_tokens + 64) + opts_.num_predict + 256;
    num_ctx_ = static_cast<int32_t>((need + 1023) / 1024 * 1024);
  }

  int32_t num_ctx() const { return num_ctx_; }

  std::vector<std::string> ServerArgs(bool prefix_cache, const std::string& disk_dir) const {
    std::vector<std::string> args = {"--model", "swarm=" + model_, "--kv-memory", opts_.kv_memory,
                                     "--kv-type", opts_.kv_type, "--kv-disk", disk_dir,
                                     "--num-ctx", std::to_string(num_ctx_)};
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

  // --pin: pins a shared context as the agents' chat renders it (a system message) and waits
  // until it is resident. After a restart the server is already restoring it; asking again joins.
  void PinContext(ServerProcess* server, int codebase, ModeResult* r) {
    const nlohmann::json body = {{"model", "swarm"},
                                 {"name", "swarm-context-" + std::to_string(codebase)},
                                 {"messages", {{{"role", "system"}, {"content", *contexts_[static_cast<size_t>(codebase)]}}}},
                                 {"ttl", "1h"}};
    const auto start = std::chrono::steady_clock::now();
    auto out = HttpPost(server->port(), "/api/kv/pin", body.dump());
    r->pin.ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
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
    r->pin.tokens += j.value("tokens", int64_t{0});
    r->pin.reused += j.value("reused", int64_t{0});
    r->pin.restored += j.value("restored", int64_t{0});
    r->pin.computed += j.value("computed", int64_t{0});
  }

  std::vector<const AgentScript*> ScriptsOf(const ModeSpec& spec) const {
    std::vector<const AgentScript*> out;
    for (int i = 0; i < spec.agents; ++i) out.push_back(&scripts_[static_cast<size_t>(spec.first_agent + i)]);
    return out;
  }

  AgentLoopOptions LoopOptions(ServerApi api, int port) const {
    AgentLoopOptions lo;
    lo.api = api;
    lo.port = port;
    lo.model = "swarm";
    lo.turns = opts_.turns;
    lo.num_predict = opts_.num_predict;
    lo.seed = opts_.seed;
    lo.server_answers = opts_.answers == "server";
    return lo;
  }

  // Runs the mode's agents against a swarmkv `server` and measures them.
  ModeResult RunAgents(ServerProcess* server, const ModeSpec& spec) {
    ModeResult pinned;
    if (opts_.pin && spec.prefix_cache) {
      std::vector<bool> done(contexts_.size());
      for (const AgentScript* a : ScriptsOf(spec))
        if (!done[static_cast<size_t>(a->codebase)]) {
          done[static_cast<size_t>(a->codebase)] = true;
          PinContext(server, a->codebase, &pinned);
        }
    }
    auto before = HttpGet(server->port(), "/metrics");
    double restored0 = before.ok() ? PrometheusValue(*before, "swarmkv_kv_restored_tokens_total") : 0;
    const ModeResult::Steps steps0 = before.ok() ? StepsFromMetrics(*before) : ModeResult::Steps{};

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
    ModeResult r = RunAgentLoops(spec.name, LoopOptions(ServerApi::kSwarmkv, server->port()), ScriptsOf(spec));
    // One last sample after the answers: cached blocks stay resident.
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    sampling = false;
    sampler.join();

    r.pin = pinned.pin;
    r.errors.insert(r.errors.begin(), pinned.errors.begin(), pinned.errors.end());
    auto after = HttpGet(server->port(), "/metrics");
    if (after.ok()) {
      r.prompt_tokens_restored =
          static_cast<int64_t>(PrometheusValue(*after, "swarmkv_kv_restored_tokens_total") - restored0);
      r.steps = StepsDelta(StepsFromMetrics(*after), steps0);
    } else {
      r.errors.push_back("metrics: " + after.status().ToString());
    }
    r.peak_kv_bytes = peak_kv.load();
    r.peak_rss_bytes = server->PeakRssBytes();
    return r;
  }

  // The N agents against llama.cpp's llama-server: one slot per agent with a context of num_ctx
  // each, its prompt cache on (the default) with --cache-reuse 256, the same model file, threads
  // and KV dtype. Its KV is allocated at start-up, so that is its peak KV.
  ModeResult RunLlamaServer() {
    LlamaServerSetup setup;
    setup.model_path = model_;
    setup.agents = opts_.agents;
    setup.num_ctx = num_ctx_;
    setup.threads = opts_.threads > 0 ? opts_.threads : PhysicalCoreCount();
    setup.kv_type = opts_.kv_type;
    setup.extra_args = opts_.llama_server_args;
    ServerProcessOptions so;
    so.binary = opts_.llama_server;
    so.subcommand.clear();
    so.ready_path = "/health";
    so.log_path = JoinPath(out_dir_, "server-llama_server.log");
    so.args = LlamaServerArgs(setup);
    ModeResult r;
    ServerProcess server;
    if (Status s = server.Start(so); !s.ok()) {
      r.name = "llama_server";
      r.errors.push_back(s.ToString());
      return r;
    }
    r = RunAgentLoops("llama_server", LoopOptions(ServerApi::kLlamaServer, server.port()),
                      ScriptsOf({"llama_server", opts_.agents, 0, true}));
    r.peak_rss_bytes = server.PeakRssBytes();
    if (auto gguf = GgufFile::Open(model_); gguf.ok()) {
      if (auto hp = ModelHParams::FromGguf(**gguf); hp.ok())
        // llama.cpp allocates KV for the attention layers only (none for mamba2; its recurrent
        // state, a few MiB per slot, is not counted here).
        r.peak_kv_bytes = KvBytes(static_cast<int64_t>(num_ctx_) * opts_.agents, hp->n_attention_layers(),
                                  hp->k_dim() + hp->v_dim(), opts_.kv_type);
    }
    r.peak_kv_source = "allocated";
    if (Status s = server.Stop(); !s.ok()) r.errors.push_back("llama-server: " + s.ToString());
    return r;
  }

  Result<std::vector<ModeResult>> Run(const std::vector<std::string>& wanted) {
    std::vector<ModeResult> modes;
    auto wants = [&](const std::string& m) { return std::find(wanted.begin(), wanted.end(), m) != wanted.end(); };
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
    if (wants("llama_server")) {
      modes.push_back(RunLlamaServer());
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
  std::vector<std::shared_ptr<const std::string>> contexts_;  // one per codebase
  std::vector<AgentScript> scripts_;                            // agents 0 .. N
  int32_t num_ctx_ = 0;
};

const ModeResult* FindMode(const std::vector<ModeResult>& modes, const std::string& name) {
  for (const auto& m : modes)
    if (m.name == name && m.errors.empty()) return &m;
  return nullptr;
}

nlohmann::json Checks(const std::vector<ModeResult>& modes) {
  nlohmann::json checks = nlohmann::json::object();
  const ModeResult* one = FindMode(modes, "one_agent");
  const ModeResult* shared = FindMode(modes, "shared");
  const ModeResult* off = FindMode(modes, "no_prefix_cache");
  const ModeResult* restart = FindMode(modes, "after_restart");
  const ModeResult* llama = FindMode(modes, "llama_server");
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  auto computed = [](const ModeResult* m) { return static_cast<double>(m->ComputedTokens()); };
  auto kv = [](const ModeResult* m) { return static_cast<double>(m->peak_kv_bytes); };
  if (one && shared) {
    // The shared prefix is computed once: the N agents compute one context plus their own turns.
    checks["shared_computed_over_one_agent"] = ratio(computed(shared), computed(one));
    checks["peak_kv_shared_over_one_agent"] = ratio(kv(shared), kv(one));
    checks["wall_shared_over_one_agent"] = ratio(shared->wall_ms, one->wall_ms);  // aim <= 2
    checks["decode_tps_shared_over_one_agent"] =  // aim >= 5 (client clock, see report.h)
        ratio(shared->DecodeTokensPerSecond(), one->DecodeTokensPerSecond());
    checks["decode_step_tps_shared_over_one_agent"] =  // batched decode: decode-only steps
        ratio(shared->DecodeStepTokensPerSecond(), one->DecodeStepTokensPerSecond());
  }
  if (shared && off) {
    checks["computed_no_cache_over_shared"] = ratio(computed(off), computed(shared));
    checks["wall_no_cache_over_shared"] = ratio(off->wall_ms, shared->wall_ms);  // aim >= 5
    checks["peak_kv_no_cache_over_shared"] = ratio(kv(off), kv(shared));
  }
  if (restart && one) {
    const std::vector<double> a = restart->TtftMs(0), b = one->TtftMs(0);
    if (!a.empty() && !b.empty()) checks["ttft_after_restart_over_recompute"] = ratio(a[0], b[0]);
  }
  if (shared && llama) {
    checks["wall_llama_server_over_shared"] = ratio(llama->wall_ms, shared->wall_ms);
    checks["computed_llama_server_over_shared"] = ratio(computed(llama), computed(shared));
    checks["decode_tps_shared_over_llama_server"] =
        ratio(shared->DecodeTokensPerSecond(), llama->DecodeTokensPerSecond());
    checks["ttft_p50_llama_server_over_shared"] = ratio(Percentile(llama->TtftMs(), 50), Percentile(shared->TtftMs(), 50));
  }
  return checks;
}

int RunSwarmBench(SwarmOptions opts) {
  std::vector<std::string> wanted = SplitWords(opts.modes, ',');
  if (wanted.empty()) {
    wanted = {"one_agent", "shared", "no_prefix_cache", "after_restart"};
    if (!opts.llama_server.empty()) wanted.push_back("llama_server");
  }
  for (const auto& m : wanted) {
    if (std::find(std::begin(kModes), std::end(kModes), m) == std::end(kModes)) {
      std::cerr << "swarm-bench: unknown mode '" << m
                << "' (one_agent, shared, no_prefix_cache, after_restart, llama_server)\n";
      return 2;
    }
    if (m == "llama_server" && opts.llama_server.empty()) {
      std::cerr << "swarm-bench: mode llama_server needs --llama-server PATH\n";
      return 2;
    }
  }
  if (opts.distinct_prefixes > opts.agents) {
    std::cerr << "swarm-bench: --distinct-prefixes " << opts.distinct_prefixes << " exceeds --agents " << opts.agents
              << "\n";
    return 2;
  }
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
  std::cerr << "swarm-bench: " << opts.agents << " agents x " << opts.turns << " turns, ~" << opts.prefix_tokens
            << " shared tokens in " << opts.distinct_prefixes << " codebase(s), " << opts.num_predict
            << " tokens per answer, " << opts.tool_tokens << " per tool result, model " << model << ", output " << out
            << "\n";
  Swarm swarm(opts, model, out);
  if (auto gguf = GgufFile::Open(model); gguf.ok()) {
    auto hp = ModelHParams::FromGguf(**gguf);
    if (hp.ok() && static_cast<int64_t>(hp->n_ctx_train) < swarm.num_ctx()) {
      std::cerr << "swarm-bench: each agent's last turn needs a context of " << swarm.num_ctx()
                << " tokens but the model's is " << hp->n_ctx_train
                << ": lower --prefix-tokens, --turns, --tool-tokens or --num-predict\n";
      return 2;
    }
  }
  auto modes = swarm.Run(wanted);
  if (!modes.ok()) {
    std::cerr << "swarm-bench: " << modes.status().ToString() << "\n";
    return 1;
  }
  nlohmann::json j = {{"config",
                       {{"agents", opts.agents},
                        {"prefix_tokens", opts.prefix_tokens},
                        {"suffix_tokens", opts.suffix_tokens},
                        {"num_predict", opts.num_predict},
                        {"turns", opts.turns},
                        {"tool_tokens", opts.tool_tokens},
                        {"distinct_prefixes", opts.distinct_prefixes},
                        {"answers", opts.answers},
                        {"num_ctx", swarm.num_ctx()},
                        {"model", model},
                        {"kv_memory", opts.kv_memory},
                        {"kv_type", opts.kv_type},
                        {"threads", opts.threads},
                        {"pin", opts.pin},
                        {"llama_server", opts.llama_server},
                        {"llama_server_args", opts.llama_server_args}}}};
  bool failed = false;
  for (const auto& m : *modes) {
    j[m.name] = m.ToJson();
    failed |= !m.errors.empty();
  }
  j["checks"] = Checks(*modes);
  std::string json_path = opts.json_path.empty() ? JoinPath(out, "swarm-bench.json") : opts.json_path;
  std::string svg_path = JoinPath(out, "swarm-bench.svg");
  Status s = Env::Default()->WriteFileAtomic(json_path, j.dump(2) + "\n", false);
  if (s.ok())
    s = Env::Default()->WriteFileAtomic(svg_path,
                                        RenderSvg(*modes, "swarmkv swarm-bench: " + std::to_string(opts.agents) +
                                                              " agents x " + std::to_string(opts.turns) + " turns"),
                                        false);
  if (!s.ok()) {
    std::cerr << "swarm-bench: " << s.ToString() << "\n";
    return 1;
  }
  std::cout << RenderTable(*modes) << "\nchecks: " << j["checks"].dump() << "\n"
            << "results: " << json_path << "\nchart:   " << svg_path << "\n";
  return failed ? 1 : 0;
}

CommandRegistrar reg("swarm-bench",
                     "N agents in a tool loop share long contexts over the HTTP API: prefix sharing vs none vs "
                     "restart (vs llama-server)",
                     [](CLI::App& app) -> CommandRun {
                       auto o = std::make_shared<SwarmOptions>();
                       app.add_option("--agents", o->agents, "Concurrent agents")->check(CLI::Range(1, 256));
                       app.add_option("--prefix-tokens", o->prefix_tokens, "Shared context length in tokens")
                           ->check(CLI::Range(int64_t{16}, int64_t{1} << 20));
                       app.add_option("--suffix-tokens", o->suffix_tokens, "Each agent's own task length")
                           ->check(CLI::Range(1, 1 << 16));
                       app.add_option("-n,--num-predict", o->num_predict, "Tokens each answer generates")
                           ->check(CLI::Range(1, 1 << 16));
                       app.add_option("--turns", o->turns,
                                      "Requests per agent: after each answer it appends the answer and a tool "
                                      "result and asks again")
                           ->check(CLI::Range(1, 64));
                       app.add_option("--tool-tokens", o->tool_tokens, "Length of each tool result in tokens")
                           ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
                       app.add_option("--distinct-prefixes", o->distinct_prefixes,
                                      "Different codebases; agent i reads codebase i mod K")
                           ->check(CLI::Range(1, 256));
                       app.add_option("--answers", o->answers,
                                      "What an agent appends as its answer: stand-in (a generated text of "
                                      "--num-predict tokens, the same in every mode; random-weight models print "
                                      "nearly nothing) or server (the server's own text)")
                           ->check(CLI::IsMember({"stand-in", "server"}));
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
                       app.add_option("--modes", o->modes,
                                      "Comma-separated subset of one_agent,shared,no_prefix_cache,after_restart,"
                                      "llama_server (default: all; llama_server only with --llama-server)");
                       app.add_flag("--pin", o->pin,
                                    "Pin the shared contexts (POST /api/kv/pin, until resident) before the agents "
                                    "start, in every mode with the prefix cache; the table shows the pin's time");
                       app.add_option("--llama-server", o->llama_server,
                                      "llama.cpp's llama-server binary: adds mode llama_server, the same agents "
                                      "against it (-np AGENTS --cache-reuse 256, same model, threads, KV dtype)");
                       app.add_option("--llama-server-args", o->llama_server_args,
                                      "Extra arguments for llama-server, e.g. \"-fa on\"");
                       return [o] { return RunSwarmBench(*o); };
                     });

}  // namespace
}  // namespace swarmkv::cli
