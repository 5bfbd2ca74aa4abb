// Results of the swarm benchmark: one ModeResult per mode, rendered as a text table, JSON
// (the machine-readable record for docs/benchmarks.md) and an SVG chart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace swarmkv::cli {

struct ModeResult {
  std::string name;  // "one_agent", "shared", "no_prefix_cache", "after_restart"
  int agents = 0;
  int64_t prompt_tokens = 0;           // sum over agents, as the server reported them
  int64_t prompt_tokens_computed = 0;  // from /metrics
  int64_t prompt_tokens_reused = 0;    // from /metrics
  int64_t prompt_tokens_restored = 0;  // of the reused: brought back from a lower tier (/metrics)
  int64_t generated_tokens = 0;
  // --pin: the shared context pinned (POST /api/kv/pin, waiting until resident) before the agents.
  struct Pin {
    bool done = false;
    double ms = 0;  // request -> prefix resident
    int64_t tokens = 0, reused = 0, restored = 0, computed = 0;
  } pin;
  std::vector<double> ttft_ms;         // one per agent
  std::vector<double> total_ms;        // one per agent
  uint64_t peak_kv_bytes = 0;          // RAM tier, sampled during the run
  uint64_t peak_rss_bytes = 0;         // server process VmHWM
  double wall_ms = 0;                  // first request sent -> last answer complete
  std::vector<std::string> errors;

  nlohmann::json ToJson() const;
};

// Where the agents' prompts came from: "restore" (a lower tier), "reuse" (RAM), "compute".
std::string TtftSource(const ModeResult& m);
std::string RenderTable(const std::vector<ModeResult>& modes);
std::string RenderSvg(const std::vector<ModeResult>& modes, const std::string& title);

}  // namespace swarmkv::cli
