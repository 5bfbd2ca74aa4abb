// Shared-prefix (cascade) attention, end to end: decode step time of N sequences that share one
// long cached context (the swarm case), with ForwardOptions::cascade_attention on and off in the
// same process, interleaved per round (off, on, then on, off) so a shared box's load hits both.
//
//   cascade_bench [--model FILE] [--shape smollm2-135m] [--prefix 8192] [--agents 1,2,4,10,32]
//                 [--tail 16] [--steps 8] [--rounds 2] [--threads 2] [--kv f16]
//
// Without --model the synthetic model of --shape (Q8_0 weights, seed 1) is written to a temporary
// file first. The context is computed once; every agent attaches its blocks from the cache, adds a
// private tail, then all agents decode together. Output: one JSON object per line —
// {"bench":"cascade_decode", "agents", "cascade", "step_ms_median", "step_ms_min", "load", ...},
// then per agent count {"bench":"cascade_summary", "agents", "on_ms", "off_ms", "speedup",
// "on_vs_one_agent"} (medians over every round).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "engine/forward.h"
#include "engine/model_binding.h"
#include "kernels/cpu_features.h"
#include "memory/kv_memory.h"
#include "model/model.h"
#include "model/synthetic_model.h"

namespace swarmkv {
namespace {

struct Options {
  std::string model;
  std::string shape = "smollm2-135m";
  int64_t prefix = 8192;
  std::vector<int> agents = {1, 2, 4, 10, 32};
  int tail = 16;
  int steps = 8;
  int rounds = 2;
  int threads = 2;
  std::string kv = "f16";
};

double Load1() {
  std::ifstream f("/proc/loadavg");
  double l = 0;
  f >> l;
  return l;
}

std::string CpuName() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "?";
}

int Fail(const Status& s) {
  std::cerr << "cascade_bench: " << s.ToString() << "\n";
  return 1;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

int Run(const Options& o) {
  std::string path = o.model;
  std::string tmp;
  if (path.empty()) {
    tmp = "/tmp/cascade_bench_" + std::to_string(getpid()) + ".gguf";
    SyntheticModelOptions so;
    so.shape = o.shape;
    so.type = TensorType::kQ8_0;
    so.seed = 1;
    std::cerr << "writing the synthetic " << o.shape << " model to " << tmp << "\n";
    if (Status s = MakeSyntheticModel(so, tmp); !s.ok()) return Fail(s);
    path = tmp;
  }
  auto model = Model::Load(path, ModelLoadOptions{});
  if (!tmp.empty()) std::remove(tmp.c_str());  // mapped: stays readable
  if (!model.ok()) return Fail(model.status());
  auto kv_type = ParseTensorType(o.kv);
  if (!kv_type) return Fail(InvalidArgumentError("unknown --kv " + o.kv));

  KvMemoryOptions mo;
  mo.budget_bytes = 4ull << 30;
  auto memory = KvMemory::Create(mo);
  if (!memory.ok()) return Fail(memory.status());
  KvCacheConfig kc;
  kc.k_type = kc.v_type = *kv_type;
  const Hash128 ns = (*model)->KvNamespace(kc);
  const ModelHParams& h = (*model)->hparams();
  NamespaceOptions no;
  no.id = ns;
  no.name = path;
  no.shape.num_layers = static_cast<int32_t>(h.n_layer);
  no.shape.num_kv_heads = static_cast<int32_t>(h.n_head_kv);
  no.shape.head_dim_k = static_cast<int32_t>(h.head_dim_k);
  no.shape.head_dim_v = static_cast<int32_t>(h.head_dim_v);
  no.shape.block_tokens = static_cast<int32_t>(kc.block_tokens);
  no.shape.k_type = no.shape.v_type = *kv_type;
  if (Status s = (*memory)->RegisterNamespace(no); !s.ok()) return Fail(s);
  auto config = ForwardConfigFromModel(**model);
  auto weights = ForwardWeightsFromModel(**model);
  if (!config.ok()) return Fail(config.status());
  if (!weights.ok()) return Fail(weights.status());
  ThreadPool pool(o.threads);
  ForwardOptions on, off;
  on.pool = off.pool = &pool;
  off.cascade_attention = false;
  auto fwd_on = ForwardPass::Create(*config, *weights, memory->get(), ns, on);
  auto fwd_off = ForwardPass::Create(*config, *weights, memory->get(), ns, off);
  if (!fwd_on.ok()) return Fail(fwd_on.status());
  if (!fwd_off.ok()) return Fail(fwd_off.status());
  KvMemory& mem = **memory;

  // The shared context, computed once in 512-token chunks.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> tok(3, config->n_vocab - 1);
  std::vector<int32_t> context(o.prefix);
  for (auto& t : context) t = tok(rng);
  auto base = mem.CreateSequence(ns);
  if (!base.ok()) return Fail(base.status());
  StepBatch batch;
  StepOutput out;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < o.prefix; i += 512) {
    const int64_t n = std::min<int64_t>(512, o.prefix - i);
    batch.Clear();
    batch.Add(*base, i, std::span<const int32_t>(context).subspan(i, n), i + n == o.prefix);
    if (Status s = (*fwd_on)->Run(batch, &out); !s.ok()) return Fail(s);
  }
  const double prefill_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "context of " << o.prefix << " tokens computed in " << prefill_s << " s\n";

  const std::string cpu = CpuName();
  std::map<std::pair<int, bool>, std::vector<double>> medians;
  // One measurement: N agents attach the context, add their tails in one step, then decode.
  auto measure = [&](int n_agents, bool cascade) -> Result<std::vector<double>> {
    ForwardPass* fwd = cascade ? fwd_on->get() : fwd_off->get();
    std::vector<SequenceId> seqs;
    std::vector<int64_t> pos;
    std::vector<std::vector<int32_t>> tails(n_agents);
    batch.Clear();
    for (int a = 0; a < n_agents; ++a) {
      SKV_ASSIGN_OR_RETURN(SequenceId s, mem.CreateSequence(ns));
      SKV_ASSIGN_OR_RETURN(PrefixMatch m, mem.AttachPrefix(s, context));
      seqs.push_back(s);
      for (int i = 0; i < o.tail; ++i) tails[a].push_back(tok(rng));
      std::vector<int32_t> rest(context.begin() + m.matched_tokens, context.end());
      rest.insert(rest.end(), tails[a].begin(), tails[a].end());
      tails[a] = rest;
      batch.Add(s, m.matched_tokens, tails[a], true);
      pos.push_back(m.matched_tokens + static_cast<int64_t>(rest.size()));
    }
    SKV_RETURN_IF_ERROR(fwd->Run(batch, &out));
    std::vector<double> ms;
    std::vector<int32_t> toks(n_agents);
    for (int step = 0; step < o.steps; ++step) {
      batch.Clear();
      for (int a = 0; a < n_agents; ++a) {
        toks[a] = tok(rng);
        batch.Add(seqs[a], pos[a]++, std::span<const int32_t>(&toks[a], 1), true);
      }
      const auto s0 = std::chrono::steady_clock::now();
      SKV_RETURN_IF_ERROR(fwd->Run(batch, &out));
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0).count());
    }
    for (SequenceId s : seqs) SKV_RETURN_IF_ERROR(mem.Release(s));
    return ms;
  };

  for (int round = 0; round < o.rounds; ++round) {
    for (int n : o.agents) {
      for (int k = 0; k < 2; ++k) {
        const bool cascade = (k == 1) != (round % 2 == 1);  // off, on; then on, off
        const double load = Load1();
        auto ms = measure(n, cascade);
        if (!ms.ok()) return Fail(ms.status());
        const double med = Median(*ms);
        medians[{n, cascade}].push_back(med);
        nlohmann::json j = {{"bench", "cascade_decode"}, {"agents", n}, {"cascade", cascade},
                            {"prefix_tokens", o.prefix}, {"tail_tokens", o.tail}, {"steps", o.steps},
                            {"round", round}, {"step_ms_median", med},
                            {"step_ms_min", *std::min_element(ms->begin(), ms->end())},
                            {"threads", o.threads}, {"kv", o.kv}, {"isa", std::string(IsaName(ActiveIsa()))},
                            {"cpu", cpu}, {"load", load}};
        std::cout << j.dump() << std::endl;
      }
    }
  }
  if (Status s = mem.Release(*base); !s.ok()) return Fail(s);
  const double one = Median(medians[{o.agents.front(), true}]);
  for (int n : o.agents) {
    const double on_ms = Median(medians[{n, true}]), off_ms = Median(medians[{n, false}]);
    nlohmann::json j = {{"bench", "cascade_summary"}, {"agents", n}, {"on_ms", on_ms}, {"off_ms", off_ms},
                        {"speedup", off_ms / on_ms}, {"on_vs_first", on_ms / one},
                        {"first_agents", o.agents.front()}, {"load_end", Load1()}};
    std::cout << j.dump() << std::endl;
  }
  return 0;
}

}  // namespace
}  // namespace swarmkv

int main(int argc, char** argv) {
  swarmkv::Options o;
  CLI::App app{"Decode step time of N agents sharing a cached context, cascade attention on vs off"};
  app.add_option("--model", o.model, "GGUF model (default: the synthetic --shape, Q8_0, seed 1)");
  app.add_option("--shape", o.shape, "Synthetic shape when no --model is given")->capture_default_str();
  app.add_option("--prefix", o.prefix, "Shared context tokens")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--agents", o.agents, "Agent counts (comma-separated); the first is the baseline")
      ->delimiter(',')->check(CLI::PositiveNumber);
  app.add_option("--tail", o.tail, "Private tokens per agent before decoding")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--steps", o.steps, "Timed decode steps per measurement")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--rounds", o.rounds, "Rounds (each measures every agent count, off and on)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--threads", o.threads, "Threads")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--kv", o.kv, "KV dtype")->check(CLI::IsMember({"f16", "bf16", "q8_0", "f32"}))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return swarmkv::Run(o);
}
