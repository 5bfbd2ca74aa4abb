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
  // The server's engine steps during the mode (swarmkv /metrics deltas; absent for llama-server):
  // by kind — decode (decode rows only), mixed (decode rows beside prompt chunks), prefill.
  struct StepKind {
    double steps = 0, decode_rows = 0, prefill_rows = 0, seconds = 0;
  };
  struct Steps {
    bool known = false;
    StepKind decode, mixed, prefill;
  } steps;
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
  // Includes the time decode steps waited on other agents' prompt chunks (mixed steps) and the
  // prompt-only steps in between: a client's view of aggregate decode speed.
  double DecodeTokensPerSecond() const;
  // Batched decode throughput (server side): decode rows per second of the steps that ran only
  // decode rows; 0 when unknown.
  double DecodeStepTokensPerSecond() const;
  nlohmann::json ToJson() const;
};

// The engine step totals in a swarmkv /metrics text (server/server_metrics.h: swarmkv_engine_*);
// `known` when the series are there. StepsDelta: after - before, kind by kind.
ModeResult::Steps StepsFromMetrics(const std::string& prometheus_text);
ModeResult::Steps StepsDelta(const ModeResult::Steps& after, const ModeResult::Steps& before);

// The p-th percentile (0..100) by linear interpolation between closest ranks; 0 when empty.
double Percentile(std::vector<double> values, double p);
// The length of the union of [begin, end) intervals.
double UnionLength(std::vector<std::pair<double, double>> intervals);

// Where the agents' first prompts came from: "restore" (a lower tier), "reuse" (RAM), "compute".
std::string TtftSource(const ModeResult& m);
std::string RenderTable(const std::vector<ModeResult>& modes);
std::string RenderSvg(const std::vector<ModeResult>& modes, const std::string& title);

}  // namespace swarmkv::cli
