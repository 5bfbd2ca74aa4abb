// HttpServer's KV pin routes: POST /api/kv/pin (preload and keep), GET /api/kv/pins,
// POST /api/kv/unpin and DELETE /api/kv/pin. The pin lifecycle itself is server/pin_service.h.
//
// POST /api/kv/pin {"model", "name", "prompt" | "messages", "ttl", "stream"}: the request is
// validated here (clear 400/404 errors), the service validates sizes and starts the preload; then
//   stream false (default): the answer comes when the prefix is resident — tokens, reused,
//                           restored, computed, bytes, expires_at; a preload still running after
//                           --pin-wait is answered 202 {name, model, status, completed, total}
//                           (poll GET /api/kv/pins, or send the pin again to join the job);
//   stream true: NDJSON progress as Ollama's pull streams it, {"status": "restoring" |
//                "computing", "completed", "total"}, then {"status": "success", ...the counts}
//                or {"error": "..."}.
// A client that leaves does not cancel the preload (the service owns the job); the handler stops
// waiting for it within 200 ms. No wait here depends on the client alone.
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

#include "server/api_request.h"
#include "server/api_response.h"
#include "server/connection_guard.h"
#include "server/http_server.h"
#include "server/json_limits.h"
#include "server/pin_limits.h"
#include "server/pin_service.h"
#include "server/prompt_builder.h"

namespace swarmkv {

namespace {

using json = nlohmann::json;

void SendPinJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(DumpJson(body), "application/json; charset=utf-8");
}

// 409: a conflicting job or server mode; 429: a pin cap (the client may unpin and retry).
int PinHttpStatus(const Status& s) {
  if (s.code() == StatusCode::kFailedPrecondition) return 409;
  if (s.code() == StatusCode::kResourceExhausted) return 429;
  return HttpStatusFor(s);
}

void SendPinError(httplib::Response& res, const Status& s) {
  const int code = PinHttpStatus(s);
  res.status = code;
  res.set_content(ErrorBody(false, code, s.message()), "application/json; charset=utf-8");
}

// A pin's time (0: never).
std::string PinTime(int64_t unix_ms) { return unix_ms == 0 ? "never" : Rfc3339FromUnixMs(unix_ms); }

json OutcomeJson(const PinOutcome& o) {
  return {{"name", o.name},         {"model", o.model},         {"tokens", o.tokens},
          {"reused", o.reused},     {"restored", o.restored},   {"computed", o.computed},
          {"bytes", o.bytes},       {"expires_at", PinTime(o.expires_unix_ms)}};
}

}  // namespace

void HttpServer::HandlePin(const httplib::Request& req, httplib::Response& res) {
  auto parsed_body = ParseJsonLimited(req.body);
  if (!parsed_body.ok()) return SendPinError(res, parsed_body.status());
  json body = std::move(parsed_body).value();
  if (!body.is_object()) return SendPinError(res, InvalidArgumentError("request body is not a JSON object"));
  if (!body.contains("name") || !body["name"].is_string())
    return SendPinError(res, InvalidArgumentError("field 'name' (a non-empty string naming the pin) is required"));
  std::string name = body["name"];
  if (Status s = ValidatePinName(name); !s.ok()) return SendPinError(res, s);
  if (!body.contains("model") || !body["model"].is_string()) return SendPinError(res, InvalidArgumentError("field 'model' is required"));
  const std::string model = body["model"];
  if (pins_ == nullptr) return SendPinError(res, UnavailableError("no engine in this server: nothing to pin"));
  const ModelEntry* e = registry_->Find(model);
  if (e == nullptr) return SendPinError(res, NotFoundError("model '" + model + "' not found"));
  auto ttl_ms = ValidatePinTtlMs(body.contains("ttl") ? &body["ttl"] : nullptr);
  if (!ttl_ms.ok()) return SendPinError(res, ttl_ms.status());
  bool stream = false;
  if (body.contains("stream")) {
    if (!body["stream"].is_boolean()) return SendPinError(res, InvalidArgumentError("field 'stream' must be true or false"));
    stream = body["stream"].get<bool>();
  }
  const bool has_prompt = body.contains("prompt"), has_messages = body.contains("messages");
  if (has_prompt == has_messages)
    return SendPinError(res, InvalidArgumentError("give the prefix to pin as 'prompt' (raw text) or 'messages' (a chat), one of them"));
  if (has_prompt && !body["prompt"].is_string()) return SendPinError(res, InvalidArgumentError("field 'prompt' must be a string"));

  // The prefix's tokens need the model's tokenizer: lease it (loading it if needed) for this.
  auto lease = models_->Acquire(*e, std::nullopt);
  if (!lease.ok()) return SendPinError(res, lease.status());
  std::vector<int32_t> tokens;
  if (has_prompt) {
    auto t = lease->model().Tokenize(body["prompt"].get<std::string>(), true);
    if (!t.ok()) return SendPinError(res, t.status());
    tokens = std::move(t).value();
  } else {
    // The chat routes' own prompt path (prompt_builder.h), so the pin is exactly the prefix a
    // chat with these messages renders — `{{ .Prompt }}` for a GGUF without a template included.
    auto parsed = ParseApiRequest(ApiKind::kOllamaChat, json{{"model", model}, {"messages", body["messages"]}}.dump());
    if (!parsed.ok()) return SendPinError(res, parsed.status());
    auto summary = summaries_.Get(e->weights_path);
    const bool gguf_has_template = !summary.ok() || !(*summary)->chat_template.empty();
    const PromptPlan plan = PlanPrompt(*parsed, *e, gguf_has_template);
    auto t = RenderFrom(*parsed, plan, lease->model(), 0);
    if (!t.ok()) return SendPinError(res, t.status());
    tokens = std::move(t).value();
  }
  // Caps on live pins (--max-pins, --max-pinned-tokens), counted from the service's own list.
  const std::string budget_key = e->name + "\n" + name;
  {
    std::vector<PinBudget::Live> live;
    for (const PinListing& l : pins_->List())
      live.push_back({l.record.model + "\n" + l.record.name, static_cast<int64_t>(l.record.tokens.size()),
                      l.record.expires_unix_ms});
    pin_budget_.Sync(live);
    const int64_t now_ms = NowUnixMs();
    if (Status admit = pin_budget_.Admit(budget_key, static_cast<int64_t>(tokens.size()), now_ms + *ttl_ms, now_ms);
        !admit.ok()) {
      res.status = 429;  // too many pins: the client may retry after unpinning
      return res.set_content(ErrorBody(false, 429, admit.message()), "application/json; charset=utf-8");
    }
  }
  PinService::Spec spec;
  spec.entry = e;
  spec.name = name;
  spec.tokens = std::move(tokens);
  spec.ttl_ms = *ttl_ms;
  auto job = pins_->Pin(std::move(spec));
  lease->Release();  // the job holds its own lease until its preload ends
  if (!job.ok()) {
    pin_budget_.Remove(budget_key);
    return SendPinError(res, job.status());
  }
  std::shared_ptr<PinJob> j = *job;

  if (!stream) {
    // Bounded wait: the job's end, the client leaving, or --pin-wait — then 202 with the state.
    uint64_t version = 0;
    PinJob::State st = j->Snapshot();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.pin_wait_ms);
    while (!st.done) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      if (ClientDisconnected()) return;  // nobody to answer; the job goes on without it
      st = j->Wait(&version, std::min<int64_t>(200, left.count()));
    }
    if (!st.done)
      return SendPinJson(res, 202, {{"name", name}, {"model", e->name}, {"status", st.phase},
                                    {"completed", st.completed}, {"total", st.total}});
    if (!st.status.ok()) return SendPinError(res, st.status);
    return SendPinJson(res, 200, OutcomeJson(st.outcome));
  }
  res.status = 200;
  auto version = std::make_shared<uint64_t>(0);
  res.set_chunked_content_provider("application/x-ndjson", [j, version](size_t, httplib::DataSink& sink) {
    PinJob::State st = j->Wait(version.get(), 500);
    if (!sink.is_writable()) return false;  // the client left: the job goes on without it
    json line;
    if (!st.done) {
      line = {{"status", st.phase}, {"completed", st.completed}, {"total", st.total}};
    } else if (st.status.ok()) {
      line = OutcomeJson(st.outcome);
      line["status"] = "success";
    } else {
      line = {{"status", "error"}, {"error", st.status.message()}};
    }
    const std::string out = NdjsonLine(line);
    if (!sink.write(out.data(), out.size())) return false;
    if (st.done) sink.done();
    return true;
  });
}

void HttpServer::HandleUnpin(const httplib::Request& req, httplib::Response& res) {
  auto parsed_body = ParseJsonLimited(req.body);
  if (!parsed_body.ok()) return SendPinError(res, parsed_body.status());
  json body = std::move(parsed_body).value();
  if (!body.is_object()) return SendPinError(res, InvalidArgumentError("request body is not a JSON object"));
  if (!body.contains("name") || !body["name"].is_string() || body["name"].get<std::string>().empty())
    return SendPinError(res, InvalidArgumentError("field 'name' (a non-empty string naming the pin) is required"));
  const std::string name = body["name"];
  std::string model;
  if (body.contains("model")) {
    if (!body["model"].is_string()) return SendPinError(res, InvalidArgumentError("field 'model' must be a string"));
    model = body["model"];
    if (registry_->Find(model) != nullptr) model = registry_->Find(model)->name;  // "m" -> "m:latest"
  }
  if (pins_ == nullptr) return SendPinError(res, UnavailableError("no engine in this server: nothing to pin"));
  Status s = pins_->Unpin(model, name);
  if (!s.ok()) return SendPinError(res, s);
  SendPinJson(res, 200, {{"name", name}, {"unpinned", true}});
}

void HttpServer::HandlePins(httplib::Response& res) {
  json pins = json::array();
  if (pins_ != nullptr) {
    for (const PinListing& l : pins_->List())
      pins.push_back({{"name", l.record.name},
                      {"model", l.record.model},
                      {"tokens", l.record.tokens.size()},
                      {"resident_tokens", l.resident_tokens},
                      {"bytes", l.bytes},
                      {"hits", l.hits},
                      {"state", l.phase},
                      {"created_at", PinTime(l.record.created_unix_ms)},
                      {"expires_at", PinTime(l.record.expires_unix_ms)}});
  }
  SendPinJson(res, 200, {{"pins", pins}});
}

}  // namespace swarmkv
