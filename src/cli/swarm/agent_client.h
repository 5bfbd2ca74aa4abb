// One agent of the swarm benchmark: a streaming Ollama /api/chat request over loopback HTTP,
// timed from the client's side (time to first token, total time) with the server's own counts.
//
// Thread-safety: RunAgent is reentrant; each call opens its own connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace swarmkv::cli {

struct AgentRequest {
  std::string model;
  std::string system;  // the shared context
  std::string user;    // the agent's own task
  int32_t num_predict = 32;
  uint64_t seed = 0;
  int32_t num_ctx = 0;  // 0: the server's default (like an Ollama client, a long context must ask)
};

struct AgentResult {
  Status status;
  double ttft_ms = 0;    // request sent -> first streamed token
  double total_ms = 0;   // request sent -> final message
  int64_t prompt_eval_count = 0;  // as reported by the server's final message
  int64_t eval_count = 0;
  std::string text;
};

AgentResult RunAgent(int port, const AgentRequest& request);

// GET path on 127.0.0.1:port; the body or an error.
Result<std::string> HttpGet(int port, const std::string& path);

// POST `body` (JSON) to path on 127.0.0.1:port; the body of a 200 answer or an error with the answer.
Result<std::string> HttpPost(int port, const std::string& path, const std::string& body, int read_timeout_s = 3600);

// The sum of all samples of a Prometheus series `name` whose labels contain every `label_filter`
// (e.g. `tier="ram"`), or 0 when absent.
double PrometheusValue(const std::string& text, const std::string& name, const std::string& label_filter = "");

}  // namespace swarmkv::cli
