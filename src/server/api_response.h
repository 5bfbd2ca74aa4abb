// The JSON shapes of the responses, exactly as Ollama and OpenAI send them.
//
// Ollama streams NDJSON: one object per token ({"model","created_at","response"|"message",
// "done":false}), then a final object with done:true, done_reason and the counts and durations
// (nanoseconds): total_duration, load_duration, prompt_eval_count, prompt_eval_duration,
// eval_count, eval_duration, and for /api/generate the `context` token ids. Non-streaming answers
// are that final object carrying the whole text. OpenAI streams SSE "data: {json}\n\n" chunks
// ending with "data: [DONE]\n\n"; `usage` carries prompt_tokens_details.cached_tokens.
//
// NOTE: prompt_eval_count is the whole prompt's length (what the client sent), not only the
// tokens computed; the reused part is in /metrics and OpenAI's cached_tokens.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generation.h"
#include "server/api_request.h"

namespace swarmkv {

struct ResponseMeta {
  std::string model;       // the name the client asked for
  std::string id;          // OpenAI: "chatcmpl-..." / "cmpl-..."
  int64_t created_unix_s = 0;
};

struct FinalCounts {
  GenerationStats stats;
  int64_t total_ns = 0;  // request received -> finished
  int64_t load_ns = 0;   // time spent loading the model for this request
  std::vector<int32_t> context;  // generate: prompt + generated tokens
};

// RFC 3339 with nanoseconds in UTC, as Ollama's created_at ("2024-05-01T12:00:00.123456789Z").
std::string Rfc3339Now();
// `ms` since the Unix epoch, to the second: "2026-12-03T09:40:00Z".
std::string Rfc3339FromUnixMs(int64_t ms);

// Ollama's done_reason / OpenAI's finish_reason for the engine's finish_reason.
std::string OllamaDoneReason(const std::string& finish_reason);
std::string OpenAIFinishReason(const std::string& finish_reason);

nlohmann::json OllamaChunk(ApiKind kind, const ResponseMeta& meta, const std::string& text);
// `text`: "" when streaming (the text went out in chunks), the whole reply otherwise.
nlohmann::json OllamaFinal(ApiKind kind, const ResponseMeta& meta, const std::string& text, const FinalCounts& counts);

nlohmann::json OpenAIUsage(const GenerationStats& stats);
nlohmann::json OpenAIChunk(ApiKind kind, const ResponseMeta& meta, const std::string& text, bool first);
nlohmann::json OpenAIFinalChunk(ApiKind kind, const ResponseMeta& meta, const std::string& finish_reason);
nlohmann::json OpenAIUsageChunk(ApiKind kind, const ResponseMeta& meta, const GenerationStats& stats);
nlohmann::json OpenAIComplete(ApiKind kind, const ResponseMeta& meta, const std::string& text,
                              const GenerationStats& stats);

// The error body of each API: Ollama {"error": "..."}; OpenAI {"error": {"message","type","code"}}.
std::string ErrorBody(bool openai, int http_status, const std::string& message);
// HTTP status for a Status code (InvalidArgument 400, NotFound 404, Unimplemented 501,
// ResourceExhausted/Unavailable 503, Cancelled 499, others 500).
int HttpStatusFor(const Status& status);

// Serialises with invalid UTF-8 replaced by U+FFFD (never throws).
std::string DumpJson(const nlohmann::json& j);
// One SSE event / one NDJSON line.
std::string SseEvent(const nlohmann::json& j);
std::string NdjsonLine(const nlohmann::json& j);

}  // namespace swarmkv
