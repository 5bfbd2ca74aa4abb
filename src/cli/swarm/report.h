// Results of the swarm benchmark: one ModeResult per mode (every request of every agent's loop,
// timed by the client, with the server's prompt counts), its statistics (percentiles, decode
// throughput), rendered as a text table, JSON (the machine-readable record for
// docs/benchmarks.md) and an SVG chart.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace swarmkv::cli {

// One request of one agent: turn `turn` of its loop. Times are from the start of the mode.
struct RequestRecord {
  int agent = 0;
  int turn = 0;  // 0-based
  double start_ms = 0;
  double ttft_ms = 0;            // from start_ms to the first streamed token
  double first_token_at_ms = 0;  // start_ms + ttft_ms
  double last_token_at_ms = 0;
  double end_ms = 0;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // of the prompt, reused from the server's cache (any tier)
  int64_t completion_tokens = 0;
  int64_t streamed_tokens = 0;  // token chunks the client saw
};

struct ModeResult {
  std::string name;  // "one_agent", "shared", "no_prefix_cache", "after_restart", "llama_server"
  int agents = 0;
  int turns = 0;
  std::vector<RequestRecord> requests;
  std::vector<double> itl_ms;          // gaps between consecutive streamed tokens of a request, all requests
  int64_t prompt_tokens_restored = 0;  // of the reused: brought back from a lower tier (swarmkv /metrics)
  // --pin: the shared context pinned (POST /api/kv/pin, waiting until resident) before the agents.
  struct Pin {
    bool done = false;
    double ms = 0;  // request -> prefix resident
    int64_t tokens = 0, reused = 0, restored = 0, computed = 0;
  } pin;
  uint64_t peak_kv_bytes = 0;  // RAM, sampled during the run (swarmkv) or allocated at start (llama-server)
  std::string peak_kv_source = "sampled";
  uint64_t peak_rss_bytes = 0;  // server process VmHWM
  double wall_ms = 0;           // first request sent -> last answer complete
  std::vector<std::string> errors;

  int64_t PromptTokens() const;
  int64_t ComputedTokens() const;  // prompt tokens the server computed
  int64_t ReusedTokens() const;
  int64_t GeneratedTokens() const;
  std::vector<double> TtftMs(int turn = -1) const;  // of one turn, or all (-1)
  // Tokens decoded after each request's first, per second of the time any agent was decoding
  // (the union of the requests' first-to-last-token spans).
  double DecodeTokensPerSecond() const;
  nlohmann::json ToJson() const;
};

// The p-th percentile (0..100) by linear interpolation between closest ranks; 0 when empty.
double Percentile(std::vector<double> values, double p);
// The length of the union of [begin, end) intervals.
double UnionLength(std::vector<std::pair<double, double>> intervals);

// Where the agents' first prompts came from: "restore" (a lower tier), "reuse" (RAM), "compute".
std::string TtftSource(const ModeResult& m);
std::string RenderTable(const std::vector<ModeResult>& modes);
std::string RenderSvg(const std::vector<ModeResult>& modes, const std::string& title);

}  // namespace swarmkv::cli
