#include "server/http_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "base/logging.h"
#include "base/sysinfo.h"
#include "server/api_request.h"
#include "server/api_response.h"
#include "server/pin_service.h"
#include "server/connection_guard.h"
#include "server/json_limits.h"
#include "server/pin_limits.h"

namespace swarmkv {

using json = nlohmann::json;

namespace {

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(DumpJson(body), "application/json; charset=utf-8");
}

void SendError(httplib::Response& res, bool openai, int status, const std::string& message, int retry_after_s = 0) {
  res.status = status;
  if (status == 503 && retry_after_s > 0) res.set_header("Retry-After", std::to_string(retry_after_s));
  res.set_content(ErrorBody(openai, status, message), "application/json; charset=utf-8");
}

// The GGUF facts of `e`, or nullptr when its header cannot be read (GgufSummaryCache logs why, once).
const GgufSummary* SummaryOrNull(GgufSummaryCache& cache, const ModelEntry& e) {
  auto s = cache.Get(e.weights_path);
  return s.ok() ? s->get() : nullptr;
}

std::string PseudoDigest(const ModelEntry& e) {
  if (!e.digest.empty()) return e.digest.substr(e.digest.find(':') + 1);
  return HashBytes(e.weights_key).ToHex();
}

json Details(const ModelEntry& e, const LoadedModelInfo* info, const GgufSummary* summary = nullptr) {
  json d = {{"parent_model", ""}, {"format", "gguf"}, {"family", ""}, {"families", nullptr},
            {"parameter_size", ""}, {"quantization_level", ""}};
  if (summary != nullptr) {
    d["family"] = summary->architecture;
    d["families"] = json::array({summary->architecture});
    d["parameter_size"] = summary->parameter_size;
    d["quantization_level"] = summary->quantization_level;
  } else if (info != nullptr) {
    d["family"] = info->architecture;
    d["families"] = json::array({info->architecture});
    d["parameter_size"] = info->parameter_size;
    d["quantization_level"] = info->quantization_level;
  }
  return d;
}

// A queued request in /api/ps and /api/kv.
// Context beyond RAM and preemption (docs/api.md "/api/kv" cold).
json ColdJson(const KvColdSnapshot& c) {
  return {{"blocks_cold", c.blocks_cold},
          {"blocks_written", c.blocks_written},
          {"blocks_exported_to_tiers", c.blocks_exported},
          {"write_errors", c.write_errors},
          {"slices_read", c.slices_read},
          {"bytes_read", c.bytes_read},
          {"read_errors", c.read_errors},
          {"preemptions", c.preemptions},
          {"preemptions_swapped", c.preemptions_swapped},
          {"swap_failures", c.swap_failures},
          {"swap_read_failures", c.swap_read_failures}};
}

json QueuedJson(const QueuedRequestInfo& q) {
  return {{"id", q.id},
          {"position", q.position},
          {"tokens", q.tokens},
          {"preemptions", q.preemptions},
          {"waiting_for", q.waiting_for_memory ? "memory" : "a running slot"}};
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, const ModelRegistry* registry, ModelManager* models,
                       ServerBackend* backend, ServerMetrics* metrics)
    : options_(std::move(options)),
      registry_(registry),
      models_(models),
      backend_(backend),
      metrics_(metrics),
      pin_budget_(options_.max_pins, options_.max_pinned_tokens) {
  access_.api_key = options_.api_key;
  access_.allowed_origins = DefaultAllowedOrigins();
  access_.allowed_origins.insert(access_.allowed_origins.end(), options_.allowed_origins.begin(),
                                 options_.allowed_origins.end());
  access_.allowed_hosts = options_.allowed_hosts;
  access_.bound_host = options_.host;
  if (backend_ != nullptr) {
    PinServiceOptions po;
    po.registry.path = backend_->PinRegistryPath();
    po.registry.max_pins = options_.max_pins;
    po.max_pinned_bytes = options_.max_pinned_bytes;
    pins_ = std::make_unique<PinService>(po, registry_, models_, backend_, metrics_);
  }
}

HttpServer::~HttpServer() {
  Stop();
  Wait();
  pins_.reset();  // its jobs end (a running preload is cancelled) while models and backend live
}

std::string HttpServer::HandleRawRequest(const std::string& bytes) {
  if (!http_) {
    ConnectionLimits limits;
    limits.worker_threads = 1;
    http_ = std::make_unique<GuardedHttpServer>(limits);
    RegisterRoutes();
    if (pins_ != nullptr) pins_->Start();  // pin jobs run as in a started server
  }
  return http_->ServeBuffer(bytes);
}

Status HttpServer::Start() {
  if (http_) return FailedPreconditionError("HttpServer already started");
  if (pins_ != nullptr) pins_->Start();  // pins of the last run are restored in the background
  ConnectionLimits limits;
  limits.worker_threads = options_.worker_threads;
  limits.max_connections = options_.max_connections;
  limits.header_timeout_ms = options_.header_timeout_ms;
  limits.body_timeout_ms = options_.body_timeout_ms;
  limits.read_timeout_ms = options_.read_timeout_ms;
  limits.write_timeout_ms = options_.write_timeout_ms;
  limits.keep_alive_timeout_ms = options_.keep_alive_timeout_s * 1000;
  limits.max_header_bytes = options_.max_header_bytes;
  limits.retry_after_s = options_.retry_after_s;
  http_ = std::make_unique<GuardedHttpServer>(limits);
  // Socket-level timeouts httplib itself sets on accepted sockets (a backstop; reads and writes
  // go through connection_guard's own deadlines).
  http_->set_read_timeout(options_.read_timeout_ms / 1000, (options_.read_timeout_ms % 1000) * 1000);
  http_->set_write_timeout(options_.write_timeout_ms / 1000, (options_.write_timeout_ms % 1000) * 1000);
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_tcp_nodelay(true);
  RegisterRoutes();
  for (const ModelEntry* e : registry_->List()) summaries_.Get(e->weights_path);  // a broken file is logged now
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
  } else {
    port_ = http_->bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port_ <= 0) {
    return IOError("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                   " (address in use, or not an address of this machine)");
  }
  http_->RaiseListenBacklog(std::max(64, options_.max_connections));
  listener_ = std::thread([this] { http_->listen_after_bind(); });
  return Status::OK();
}

void HttpServer::Wait() {
  if (listener_.joinable()) listener_.join();
}

void HttpServer::Stop() {
  // First: a handler waiting for a pin's preload wakes now, so the listener can join its workers.
  if (pins_ != nullptr) pins_->Stop();
  if (http_) http_->stop();  // the listener's exit then shuts the connection workers down
}

void HttpServer::RegisterRoutes() {
  auto& s = *http_;
  // Each route is timed and counted under its pattern (not the raw path: bounded label values).
  auto timed = [this](std::string route, auto fn) {
    return [this, route, fn](const httplib::Request& req, httplib::Response& res) {
      int64_t t0 = MonotonicNanos();
      fn(req, res);
      metrics_->OnRequest(route, res.status, static_cast<double>(MonotonicNanos() - t0) * 1e-9);
    };
  };
  // Every POST body is read here, not by httplib: httplib caps form-encoded bodies (what `curl -d`
  // sends) at 8 KiB and chunked or length-less bodies not at all. Any Content-Type is taken as
  // the JSON body, up to max_body_bytes.
  auto post = [this, &s](const std::string& pattern, httplib::Server::Handler fn) {
    s.Post(pattern, [this, fn](const httplib::Request& req, httplib::Response& res,
                               const httplib::ContentReader& reader) {
      if (ReadBody(req, res, reader)) fn(req, res);
    });
  };
  post("/api/generate", timed("/api/generate", [this](const auto& q, auto& r) {
    HandleGeneration(static_cast<int>(ApiKind::kOllamaGenerate), q, r);
  }));
  post("/api/chat", timed("/api/chat", [this](const auto& q, auto& r) {
    HandleGeneration(static_cast<int>(ApiKind::kOllamaChat), q, r);
  }));
  post("/v1/chat/completions", timed("/v1/chat/completions", [this](const auto& q, auto& r) {
    HandleGeneration(static_cast<int>(ApiKind::kOpenAIChat), q, r);
  }));
  post("/v1/completions", timed("/v1/completions", [this](const auto& q, auto& r) {
    HandleGeneration(static_cast<int>(ApiKind::kOpenAICompletion), q, r);
  }));

  s.Get("/api/version", timed("/api/version", [this](const auto&, auto& r) {
    SendJson(r, 200, {{"version", options_.version}});
  }));
  s.Get("/", [](const auto&, auto& r) { r.set_content("swarmkv is running", "text/plain"); });
  s.Get("/api/tags", timed("/api/tags", [this](const auto&, auto& r) {
    auto loaded = models_->Loaded();
    json models = json::array();
    for (const ModelEntry* e : registry_->List()) {
      const LoadedModelInfo* info = nullptr;
      for (const auto& l : loaded)
        if (l.weights_key == e->weights_key) info = &l.info;
      auto summary = summaries_.Get(e->weights_path);
      json m = {{"name", e->name},
                {"model", e->name},
                {"modified_at", Rfc3339FromUnixMs(e->modified_unix_s * 1000)},
                {"size", e->size_bytes},
                {"digest", PseudoDigest(*e)},
                {"details", Details(*e, info, summary.ok() ? summary->get() : nullptr)}};
      if (!summary.ok()) m["error"] = summary.status().message();  // listed with the reason it cannot be served
      models.push_back(std::move(m));
    }
    SendJson(r, 200, {{"models", models}});
  }));
  s.Get("/api/ps", timed("/api/ps", [this](const auto&, auto& r) {
    json models = json::array();
    const std::vector<QueuedRequestInfo> queue = backend_ ? backend_->Queue() : std::vector<QueuedRequestInfo>{};
    for (const auto& l : models_->Loaded()) {
      json waiting = json::array();
      for (const QueuedRequestInfo& q : queue)
        if (q.namespace_id == l.info.namespace_id) waiting.push_back(QueuedJson(q));
      for (const auto& name : l.names) {
        const ModelEntry* e = registry_->Find(name);
        if (e == nullptr) continue;
        int64_t expires = l.expires_unix_ms == -1 ? int64_t{253402300799000}  // year 9999: never
                          : l.expires_unix_ms == 0 ? NowUnixMs() + 5 * 60 * 1000
                                                   : l.expires_unix_ms;
        models.push_back({{"name", name},
                          {"model", name},
                          {"size", l.size_bytes},
                          {"digest", PseudoDigest(*e)},
                          {"details", Details(*e, &l.info, SummaryOrNull(summaries_, *e))},
                          {"expires_at", Rfc3339FromUnixMs(expires)},
                          {"size_vram", 0},
                          {"active_requests", l.active_requests},
                          {"queued_requests", waiting.size()},
                          {"queue", waiting},
                          {"kv_namespace", l.info.namespace_id}});
      }
    }
    SendJson(r, 200, {{"models", models}});
  }));
  s.Get("/v1/models", timed("/v1/models", [this](const auto&, auto& r) {
    json data = json::array();
    for (const ModelEntry* e : registry_->List())
      data.push_back({{"id", e->name}, {"object", "model"}, {"created", e->modified_unix_s}, {"owned_by", "swarmkv"}});
    SendJson(r, 200, {{"object", "list"}, {"data", data}});
  }));
  s.Get(R"(/v1/models/(.+))", timed("/v1/models/{id}", [this](const auto& q, auto& r) {
    const std::string id = q.matches[1];
    const ModelEntry* e = registry_->Find(id);
    if (e == nullptr) {
      json err = {{"error", {{"message", "The model '" + id + "' does not exist"}, {"type", "invalid_request_error"},
                             {"param", "model"}, {"code", "model_not_found"}}}};
      return SendJson(r, 404, err);
    }
    SendJson(r, 200, {{"id", e->name}, {"object", "model"}, {"created", e->modified_unix_s}, {"owned_by", "swarmkv"}});
  }));
  post("/api/show", timed("/api/show", [this](const auto& q, auto& r) { HandleShow(q, r); }));
  s.Get("/api/kv", timed("/api/kv", [this](const auto&, auto& r) { HandleKv(r); }));
  post("/api/kv/pin", timed("/api/kv/pin", [this](const auto& q, auto& r) { HandlePin(q, r); }));
  s.Get("/api/kv/pins", timed("/api/kv/pins", [this](const auto&, auto& r) { HandlePins(r); }));
  post("/api/kv/unpin", timed("/api/kv/unpin", [this](const auto& q, auto& r) { HandleUnpin(q, r); }));
  s.Delete("/api/kv/pin", timed("/api/kv/pin", [this](const auto& q, auto& r) { HandleUnpin(q, r); }));
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& r) {
    metrics_->UpdateKv(backend_ ? backend_->Kv() : KvSnapshot{}, static_cast<int>(models_->Loaded().size()));
    if (backend_) metrics_->UpdateSteps(backend_->EngineSteps());
    r.set_content(metrics_->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });

  // Ollama endpoints swarmkv does not implement: a clear answer at once, never a hang.
  auto unsupported = [](const std::string& what) {
    return [what](const httplib::Request& q, httplib::Response& r) {
      bool openai = q.path.rfind("/v1/", 0) == 0;
      SendError(r, openai, 501,
                what + " is not supported by swarmkv (it serves GGUF files in place: use --model NAME=PATH, "
                       "--models DIR, or models already pulled into an Ollama store)");
    };
  };
  for (const char* p : {"/api/pull", "/api/push", "/api/create", "/api/copy"})
    post(p, unsupported(std::string("POST ") + p));
  for (const char* p : {"/api/embed", "/api/embeddings", "/v1/embeddings"}) {
    post(p, [p](const httplib::Request&, httplib::Response& r) {
      SendError(r, std::string(p).rfind("/v1/", 0) == 0, 501,
                std::string("POST ") + p + ": embeddings are not served by swarmkv (it serves text generation only)");
    });
  }
  s.Delete("/api/delete", unsupported("DELETE /api/delete"));
  post(R"(/api/blobs/(.*))", unsupported("POST /api/blobs"));

  // Before any route: header count, then Host/Origin/API key (request_guard.h).
  s.set_pre_routing_handler([this](const httplib::Request& q, httplib::Response& r) {
    bool openai = q.path.rfind("/v1/", 0) == 0;
    // REMOTE_ADDR and REMOTE_PORT are added by httplib itself.
    if (q.headers.size() > static_cast<size_t>(options_.max_headers) + 2) {
      CloseConnectionAfterResponse();
      SendError(r, openai, 431, "more than " + std::to_string(options_.max_headers) + " request headers");
      return httplib::Server::HandlerResponse::Handled;
    }
    AccessRequest a;
    a.method = q.method;
    a.path = q.path;
    a.has_origin = q.has_header("Origin");
    std::string origin = q.get_header_value("Origin"), host = q.get_header_value("Host"),
                auth = q.get_header_value("Authorization"),
                pre = q.get_header_value("Access-Control-Request-Headers");
    a.origin = origin;
    a.has_host = q.has_header("Host");
    a.host = host;
    a.authorization = auth;
    a.preflight_headers = pre;
    AccessDecision d = CheckAccess(access_, a);
    for (const auto& [k, v] : d.headers) r.set_header(k, v);
    if (d.status == 0) {
      // HTTP/1.1: a request with neither Content-Length nor Transfer-Encoding has no body; answer
      // at once, as Ollama does, instead of waiting for one until the read deadline.
      if (q.method != "POST" || q.has_header("Content-Length") || q.has_header("Transfer-Encoding"))
        return httplib::Server::HandlerResponse::Unhandled;
      SendError(r, openai, 400, "missing request body");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (q.method != "GET" && q.method != "HEAD" && q.method != "OPTIONS")
      CloseConnectionAfterResponse();  // its body stays unread
    if (d.status == 204) {
      r.status = 204;
    } else {
      if (d.status == 403 || d.status == 401) metrics_->OnRequest("refused", d.status, 0);
      SendError(r, openai, d.status, d.message);
    }
    return httplib::Server::HandlerResponse::Handled;
  });

  s.set_error_handler([this](const httplib::Request& q, httplib::Response& r) {
    if (!r.body.empty()) return;  // a handler already wrote its JSON error
    bool openai = q.path.rfind("/v1/", 0) == 0;
    std::string msg;
    if (r.status == 413) {
      msg = "request body is larger than the limit of " + std::to_string(options_.max_body_bytes) + " bytes";
    } else if (r.status == 404) {
      msg = "no route " + q.method + " " + q.path;
    } else if (r.status == 400) {
      msg = "malformed HTTP request";
    } else {
      msg = "HTTP error " + std::to_string(r.status);
    }
    SendError(r, openai, r.status, msg);
  });
  s.set_exception_handler([](const httplib::Request& q, httplib::Response& r, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    SKV_LOG(ERROR) << q.method << " " << q.path << ": internal error: " << what;
    SendError(r, q.path.rfind("/v1/", 0) == 0, 500, "internal error: " + what);
  });
}

bool HttpServer::ReadBody(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  bool openai = req.path.rfind("/v1/", 0) == 0;
  const size_t limit = options_.max_body_bytes;
  auto too_large = [&] {
    CloseConnectionAfterResponse();  // the rest of the body is not read
    SendError(res, openai, 413, "request body is larger than the limit of " + std::to_string(limit) + " bytes");
    return false;
  };
  if (req.has_header("Content-Length")) {
    const std::string& v = req.get_header_value("Content-Length");
    if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) {
      CloseConnectionAfterResponse();
      SendError(res, openai, 400, "malformed Content-Length");
      return false;
    }
    if (std::stoull(v) > limit) return too_large();
  }
  // httplib's reader would parse a multipart body into parts: make it hand over the raw bytes
  // (the Request is httplib's own non-const object; handlers only see it as const).
  auto& headers = const_cast<httplib::Headers&>(req.headers);
  if (req.is_multipart_form_data()) headers.erase("Content-Type");
  std::string body;
  bool over = false;
  bool ok = reader([&](const char* data, size_t n) {
    if (body.size() + n > limit) {
      over = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (over) return too_large();
  if (!ok) {
    CloseConnectionAfterResponse();
    SendError(res, openai, 400, "the request body could not be read (client too slow, or malformed chunked encoding)");
    return false;
  }
  const_cast<httplib::Request&>(req).body = std::move(body);
  return true;
}

void HttpServer::HandleShow(const httplib::Request& req, httplib::Response& res) {
  auto parsed_body = ParseJsonLimited(req.body);
  if (!parsed_body.ok()) return SendError(res, false, 400, parsed_body.status().message());
  json body = std::move(parsed_body).value();
  if (!body.is_object()) return SendError(res, false, 400, "request body is not a JSON object");
  std::string name;
  for (const char* key : {"model", "name"}) {
    if (body.contains(key) && body[key].is_string()) name = body[key].get<std::string>();
    if (!name.empty()) break;
  }
  if (name.empty()) return SendError(res, false, 400, "field 'model' is required");
  const ModelEntry* e = registry_->Find(name);
  if (e == nullptr) return SendError(res, false, 404, "model '" + name + "' not found");
  const LoadedModelInfo* info = nullptr;
  auto loaded = models_->Loaded();
  for (const auto& l : loaded)
    if (l.weights_key == e->weights_key) info = &l.info;
  auto summary = summaries_.Get(e->weights_path);
  if (!summary.ok())  // the file is there but cannot be served: the client's 4xx names why
    return SendError(res, false, 422, "model '" + e->name + "': " + summary.status().ToString());
  const GgufSummary& sum = **summary;
  json model_info = sum.model_info;
  model_info["swarmkv.file"] = e->weights_path;
  model_info["swarmkv.file_size"] = e->size_bytes;
  if (info != nullptr) model_info["swarmkv.kv_namespace"] = info->namespace_id;
  std::string modelfile = "FROM " + e->weights_path + "\n";
  if (!e->system.empty()) modelfile += "SYSTEM \"\"\"" + e->system + "\"\"\"\n";
  // The template requests go through: a Modelfile's, the GGUF's, else Ollama's default
  // `{{ .Prompt }}` (the text as sent; prompt_builder.h) — what Ollama's /api/show reports too.
  std::string template_text = e->template_text.empty() ? sum.chat_template : e->template_text;
  if (template_text.empty()) template_text = "{{ .Prompt }}";
  json out = {{"modelfile", modelfile},
              {"parameters", e->params_json},
              {"template", template_text},
              {"system", e->system},
              {"details", Details(*e, info, &sum)},
              {"model_info", model_info},
              {"capabilities", json::array({"completion"})},
              {"modified_at", Rfc3339FromUnixMs(e->modified_unix_s * 1000)}};
  SendJson(res, 200, out);
}

void HttpServer::HandleKv(httplib::Response& res) {
  KvSnapshot kv = backend_ ? backend_->Kv() : KvSnapshot{};
  // Namespace -> model names, from the loaded models (an unloaded model's KV keeps its namespace).
  std::map<std::string, std::vector<std::string>> names_by_ns;
  for (const auto& l : models_->Loaded()) names_by_ns[l.info.namespace_id] = l.names;
  json usage = json::array();
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_tier;
  for (const auto& u : kv.usage) {
    json models = u.model.empty() ? json(names_by_ns[u.namespace_id]) : json::array({u.model});
    usage.push_back({{"namespace", u.namespace_id}, {"models", models}, {"tier", u.tier},
                     {"blocks", u.blocks}, {"bytes", u.bytes}});
    if (u.checkpoint_interval_blocks > 0) {  // hybrid models: the recurrent checkpoint policy
      usage.back()["checkpoint_interval_blocks"] = u.checkpoint_interval_blocks;
      usage.back()["blocks_with_checkpoint"] = u.blocks_with_checkpoint;
      usage.back()["checkpoint_rollback_tokens"] = u.checkpoint_rollback_tokens;
    }
    by_tier[u.tier].first += u.blocks;
    by_tier[u.tier].second += u.bytes;
  }
  json tiers = json::object();
  for (const char* t : {"ram", "disk", "redis"}) tiers[t] = {{"blocks", by_tier[t].first}, {"bytes", by_tier[t].second}};
  for (const KvTierSnapshot& t : kv.tiers) {
    json& j = tiers[t.name];
    j["blocks"] = by_tier[t.name].first;
    j["bytes"] = by_tier[t.name].second;
    j["enabled"] = true;
    j["available"] = t.available;
    j["entries"] = t.entries;
    j["capacity_bytes"] = t.capacity_bytes;
    j["restored_tokens"] = t.restored_tokens;
    j["restored_blocks"] = t.restored_blocks;
    j["written_blocks"] = t.written_blocks;
    j["write_failures"] = t.write_failures;
    j["corrupt_dropped"] = t.corrupt_dropped;
    j["mac_rejected"] = t.mac_rejected;
    j["unavailable"] = t.unavailable;
    j["restore_bytes_per_second"] = t.restore_bytes_per_second;
  }
  json writeback = {{"queue_blocks", kv.writeback_queue_blocks}, {"queue_bytes", kv.writeback_queue_bytes},
                    {"dropped", kv.writeback_dropped}, {"restores_skipped_for_recompute", kv.restores_skipped_for_recompute},
                    {"enqueued", kv.writeback_enqueued}};
  uint64_t looked_up = kv.prefix_tokens_hit + kv.prefix_tokens_computed;
  json shared = json::array();
  for (const auto& p : kv.most_shared)
    shared.push_back({{"namespace", p.namespace_id}, {"model", p.model}, {"tokens", p.tokens}, {"sequences", p.sequences},
                      {"bytes", p.bytes}, {"bytes_saved", p.bytes_saved}, {"pinned", p.pinned}});
  json evictions = json::object();
  for (const auto& [reason, n] : kv.evictions_by_reason) evictions[reason] = n;
  json queue = json::array();
  for (const QueuedRequestInfo& q : kv.queue) {
    json j = QueuedJson(q);
    j["namespace"] = q.namespace_id;
    j["models"] = names_by_ns[q.namespace_id];
    queue.push_back(std::move(j));
  }
  SendJson(res, 200,
           {{"engine_attached", backend_ != nullptr},
            {"budget_bytes", kv.budget_bytes},
            {"committed_bytes", kv.committed_bytes},
            {"tiers", tiers},
            {"writeback", writeback},
            {"usage", usage},
            {"prefix_tokens_hit", kv.prefix_tokens_hit},
            {"prefix_tokens_computed", kv.prefix_tokens_computed},
            {"hit_ratio", looked_up ? static_cast<double>(kv.prefix_tokens_hit) / static_cast<double>(looked_up) : 0.0},
            {"evictions", evictions},
            {"pinned_blocks", kv.pinned_blocks},
            {"most_shared_prefixes", shared},
            {"queue", queue},
            {"cold", ColdJson(kv.cold)}});
}

}  // namespace swarmkv
