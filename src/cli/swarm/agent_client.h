// One request of a swarm-bench agent: its conversation so far, sent over loopback HTTP as a
// streamed OpenAI-style completion, timed from the client's side (time to first token, the arrival
// of every streamed token) with the server's own prompt counts (computed vs reused from a cache).
//
// Two servers speak it: swarmkv (POST /v1/chat/completions) and llama.cpp's llama-server, which
// streams nothing for tokens that print no text (the built-in models' random weights mostly pick
// such tokens), so there the chat is rendered by the server's own template (POST /apply-template)
// and streamed from /v1/completions, one chunk per token.
//
// Thread-safety: RunAgentRequest is reentrant; each call opens its own connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace swarmkv::cli {

enum class ServerApi { kSwarmkv, kLlamaServer };

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::string name;  // a tool message's tool
};

struct AgentRequest {
  ServerApi api = ServerApi::kSwarmkv;
  std::string model;
  std::vector<ChatMessage> messages;
  int32_t num_predict = 32;
  uint64_t seed = 0;
};

struct AgentResult {
  Status status;
  double ttft_ms = 0;             // request sent -> first streamed token
  double total_ms = 0;            // request sent -> end of the stream
  std::vector<double> token_ms;   // request sent -> each streamed token's arrival
  int64_t prompt_tokens = 0;      // as reported by the server (usage)
  int64_t cached_tokens = 0;      // of the prompt, reused from the server's cache
  int64_t completion_tokens = 0;  // generated
  std::string text;
};

AgentResult RunAgentRequest(int port, const AgentRequest& request);

// GET path on 127.0.0.1:port; the body or an error.
Result<std::string> HttpGet(int port, const std::string& path);

// POST `body` (JSON) to path on 127.0.0.1:port; the body of a 200 answer or an error with the answer.
Result<std::string> HttpPost(int port, const std::string& path, const std::string& body, int read_timeout_s = 3600);

// The sum of all samples of a Prometheus series `name` whose labels contain every `label_filter`
// (e.g. `tier="ram"`), or 0 when absent.
double PrometheusValue(const std::string& text, const std::string& name, const std::string& label_filter = "");

}  // namespace swarmkv::cli
