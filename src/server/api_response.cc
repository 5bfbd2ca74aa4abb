#include "server/api_response.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace swarmkv {

using json = nlohmann::json;

std::string Rfc3339Now() {
  auto now = std::chrono::system_clock::now();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(ns % 1000000000));
  return buf;
}

std::string Rfc3339FromUnixMs(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string OllamaDoneReason(const std::string& r) { return r == "length" ? "length" : "stop"; }
std::string OpenAIFinishReason(const std::string& r) { return r == "length" ? "length" : "stop"; }

json OllamaChunk(ApiKind kind, const ResponseMeta& meta, const std::string& text) {
  json j = {{"model", meta.model}, {"created_at", Rfc3339Now()}};
  if (kind == ApiKind::kOllamaChat) {
    j["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    j["response"] = text;
  }
  j["done"] = false;
  return j;
}

json OllamaFinal(ApiKind kind, const ResponseMeta& meta, const std::string& text, const FinalCounts& c) {
  json j = OllamaChunk(kind, meta, text);
  j["done"] = true;
  j["done_reason"] = OllamaDoneReason(c.stats.finish_reason);
  if (kind == ApiKind::kOllamaGenerate) j["context"] = c.context;
  j["total_duration"] = c.total_ns;
  j["load_duration"] = c.load_ns;
  j["prompt_eval_count"] = c.stats.prompt_tokens;
  j["prompt_eval_duration"] = c.stats.prefill_ns;
  j["eval_count"] = c.stats.generated_tokens;
  j["eval_duration"] = c.stats.decode_ns;
  return j;
}

json OpenAIUsage(const GenerationStats& s) {
  return {{"prompt_tokens", s.prompt_tokens},
          {"completion_tokens", s.generated_tokens},
          {"total_tokens", s.prompt_tokens + s.generated_tokens},
          {"prompt_tokens_details", {{"cached_tokens", s.prompt_tokens_reused}}}};
}

namespace {
json OpenAIBase(ApiKind kind, const ResponseMeta& meta, bool chunk) {
  const char* object = kind == ApiKind::kOpenAIChat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                                    : "text_completion";
  return {{"id", meta.id},
          {"object", object},
          {"created", meta.created_unix_s},
          {"model", meta.model},
          {"system_fingerprint", "fp_swarmkv"}};
}
}  // namespace

json OpenAIChunk(ApiKind kind, const ResponseMeta& meta, const std::string& text, bool first) {
  json j = OpenAIBase(kind, meta, true);
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  if (kind == ApiKind::kOpenAIChat) {
    json delta = {{"content", text}};
    if (first) delta["role"] = "assistant";
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  j["choices"] = json::array({choice});
  return j;
}

json OpenAIFinalChunk(ApiKind kind, const ResponseMeta& meta, const std::string& finish_reason) {
  json j = OpenAIBase(kind, meta, true);
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", OpenAIFinishReason(finish_reason)}};
  if (kind == ApiKind::kOpenAIChat) choice["delta"] = json::object();
  else choice["text"] = "";
  j["choices"] = json::array({choice});
  return j;
}

json OpenAIUsageChunk(ApiKind kind, const ResponseMeta& meta, const GenerationStats& stats) {
  json j = OpenAIBase(kind, meta, true);
  j["choices"] = json::array();
  j["usage"] = OpenAIUsage(stats);
  return j;
}

json OpenAIComplete(ApiKind kind, const ResponseMeta& meta, const std::string& text, const GenerationStats& stats) {
  json j = OpenAIBase(kind, meta, false);
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", OpenAIFinishReason(stats.finish_reason)}};
  if (kind == ApiKind::kOpenAIChat) choice["message"] = {{"role", "assistant"}, {"content", text}};
  else choice["text"] = text;
  j["choices"] = json::array({choice});
  j["usage"] = OpenAIUsage(stats);
  return j;
}

std::string ErrorBody(bool openai, int http_status, const std::string& message) {
  if (!openai) return DumpJson(json{{"error", message}});
  const char* type = http_status == 400   ? "invalid_request_error"
                     : http_status == 404 ? "not_found_error"
                     : http_status == 503 ? "server_overloaded"
                     : http_status == 501 ? "not_implemented"
                                          : "server_error";
  return DumpJson(json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}});
}

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kCancelled: return 499;
    default: return 500;
  }
}

std::string DumpJson(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string SseEvent(const json& j) { return "data: " + DumpJson(j) + "\n\n"; }
std::string NdjsonLine(const json& j) { return DumpJson(j) + "\n"; }

}  // namespace swarmkv
