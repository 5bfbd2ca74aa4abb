// Parsing and validating the JSON bodies of the generation routes into one ApiRequest.
//
// Ollama: POST /api/generate (prompt, system, raw, context, images rejected), POST /api/chat
// (messages); options num_ctx, num_predict, temperature, top_k, top_p, min_p, seed, stop,
// repeat_penalty, repeat_last_n, presence/frequency_penalty; keep_alive; stream (default true).
// OpenAI: POST /v1/chat/completions (messages, content as a string or text parts) and
// /v1/completions (prompt); max_tokens/max_completion_tokens, temperature, top_p, seed, stop,
// presence/frequency_penalty; stream (default false), stream_options.include_usage.
//
// Agent fields (docs/api.md): tools (+ OpenAI tool_choice, parallel_tool_calls), structured output
// (Ollama format, OpenAI response_format), logprobs/top_logprobs, n (OpenAI), think (Ollama) /
// reasoning_effort (OpenAI), tool-call assistant turns and tool results in messages.
//
// Invariant: a returned ApiRequest has a non-empty model name, in-range sampling values and, for
// chat kinds, at least one message; everything wrong with the body is an InvalidArgument error
// whose message names the field and what was expected. A field that changes the output and that
// we do not implement (logit_bias, functions, audio, ...) is an InvalidArgument error naming it;
// fields without effect on the output (metadata, store, ...) are ignored. Checks that need the
// model (num_ctx vs. prompt length) happen later.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "engine/generation.h"
#include "server/backend.h"

namespace swarmkv {

enum class ApiKind { kOllamaGenerate, kOllamaChat, kOpenAIChat, kOpenAICompletion };

constexpr int32_t kMaxNumPredict = 1 << 20;  // beyond this a num_predict is a mistake, not a wish
constexpr int32_t kMaxNumCtx = 1 << 22;

enum class OutputFormat { kText, kJsonObject, kJsonSchema };
enum class ToolChoice { kAuto, kNone, kRequired, kNamed };

constexpr int32_t kMaxChoices = 16;  // OpenAI n
constexpr size_t kMaxTools = 128;

struct ApiRequest {
  ApiKind kind = ApiKind::kOllamaGenerate;
  std::string model;
  bool stream = true;
  // generate / completions
  std::string prompt;
  std::string system;
  bool raw = false;
  std::vector<int32_t> context;  // Ollama generate: token ids of the previous exchange
  // chat
  std::vector<ApiChatMessage> messages;
  SamplingParams sampling;
  int32_t num_predict = -1;  // -1: until EOS/stop/context full
  int32_t num_ctx = 0;       // 0: the server default
  std::vector<std::string> stop;
  std::optional<int64_t> keep_alive_ms;  // -1 never
  bool include_usage = false;            // OpenAI stream_options.include_usage
  std::string user;                      // OpenAI `user` (fairness key)
  std::string template_text;             // Ollama generate `template`: overrides the model's
  // Structured output (Ollama format, OpenAI response_format).
  OutputFormat format = OutputFormat::kText;
  nlohmann::ordered_json format_schema;  // kJsonSchema
  // Tools: null or [{"type":"function","function":{"name","description","parameters"}}].
  nlohmann::ordered_json tools;
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;          // kNamed
  bool parallel_tool_calls = true;
  // Log-probabilities: top_logprobs alternatives per token (0: the chosen token's only).
  bool logprobs = false;
  int32_t top_logprobs = 0;
  int32_t n = 1;                         // OpenAI: choices from one prompt
  std::optional<bool> think;             // Ollama think / OpenAI reasoning_effort; unset: the template's default
  std::string reasoning_effort;          // "low", "medium", "high" when given (gpt-oss's template reads it)
  bool has_tools() const { return tools.is_array() && !tools.empty() && tool_choice != ToolChoice::kNone; }
  bool is_openai() const { return kind == ApiKind::kOpenAIChat || kind == ApiKind::kOpenAICompletion; }
  bool is_chat() const { return kind == ApiKind::kOllamaChat || kind == ApiKind::kOpenAIChat; }
};

// `model_params_json` is the model's own default options (an Ollama Modelfile's params layer,
// e.g. {"temperature":0.2,"stop":["<|im_end|>"]}): applied over the API's defaults and under the
// request's own fields. Empty or not a JSON object: ignored.
Result<ApiRequest> ParseApiRequest(ApiKind kind, const std::string& body, const std::string& model_params_json = "");

}  // namespace swarmkv
