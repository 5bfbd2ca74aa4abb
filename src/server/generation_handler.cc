// HttpServer::HandleGeneration: the four generation routes (Ollama generate/chat, OpenAI
// chat/completions), from a JSON body to a GenerationRequest and back to NDJSON/SSE or JSON.
//
// Order of checks (each a clear JSON error): body -> model known -> admission (503 +
// Retry-After beyond max_active_generations) -> model loaded -> prompt built and tokenized ->
// num_ctx (400 naming both numbers) -> Submit. The admission slot and the model lease live until
// the response has been fully written (or the client went away, which cancels the generation).
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "base/logging.h"
#include "base/sysinfo.h"
#include "server/api_request.h"
#include "server/api_response.h"
#include "server/connection_guard.h"
#include "server/generation_stream.h"
#include "server/http_server.h"

namespace swarmkv {

namespace {

using json = nlohmann::json;

// Everything one in-flight generation holds; released when the response is done.
struct ActiveGeneration {
  std::atomic<int>* active = nullptr;  // the server's admission counter
  ModelLease lease;
  std::shared_ptr<GenerationStream> stream;
  GenerationService* service = nullptr;
  RequestId id = 0;
  bool finished = false;
  ApiRequest request;
  ResponseMeta meta;
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> generated;
  std::string text;
  int64_t start_ns = 0;
  int64_t submit_ns = 0;
  int64_t load_ns = 0;
  int64_t last_token_ns = 0;
  bool first_chunk = true;
  ServerMetrics* metrics = nullptr;

  ~ActiveGeneration() {
    if (id != 0 && !finished) service->Cancel(id);
    if (active != nullptr) active->fetch_sub(1);
  }

  // Token timing metrics for a drained batch.
  void Observe(const GenerationStream::Pending& p) {
    for (int64_t t : p.token_times_ns) {
      if (last_token_ns == 0) metrics->OnFirstToken(static_cast<double>(t - submit_ns) * 1e-9);
      else metrics->OnInterToken(static_cast<double>(t - last_token_ns) * 1e-9);
      last_token_ns = t;
    }
    generated.insert(generated.end(), p.tokens.begin(), p.tokens.end());
    if (p.finished) finished = true;  // (counted in metrics by the stream's on_finish)
  }

  FinalCounts Counts(const GenerationStats& stats) const {
    FinalCounts c;
    c.stats = stats;
    c.total_ns = MonotonicNanos() - start_ns;
    c.load_ns = load_ns;
    c.context = prompt_tokens;
    c.context.insert(c.context.end(), generated.begin(), generated.end());
    return c;
  }
};

std::string NewId(ApiKind kind, uint64_t n) {
  return (kind == ApiKind::kOpenAIChat ? "chatcmpl-" : "cmpl-") + std::to_string(NowUnixMs()) + "-" + std::to_string(n);
}

// The prompt's token ids for `r` on `model` (chat template unless raw), or an error.
Result<std::vector<int32_t>> BuildPrompt(const ApiRequest& r, const ModelEntry& entry, const LoadedModel& model) {
  std::vector<int32_t> tokens;
  if (r.kind == ApiKind::kOpenAICompletion || (r.kind == ApiKind::kOllamaGenerate && r.raw)) {
    tokens = r.context;
    SKV_ASSIGN_OR_RETURN(auto t, model.Tokenize(r.prompt, /*add_special=*/r.context.empty()));
    tokens.insert(tokens.end(), t.begin(), t.end());
    return tokens;
  }
  std::vector<ApiChatMessage> messages;
  if (r.kind == ApiKind::kOllamaGenerate) {
    std::string system = r.system.empty() ? entry.system : r.system;
    if (!system.empty()) messages.push_back({"system", system});
    messages.push_back({"user", r.prompt});
  } else {
    bool has_system = false;
    for (const auto& m : r.messages) has_system |= m.role == "system";
    if (!has_system && !entry.system.empty()) messages.push_back({"system", entry.system});
    messages.insert(messages.end(), r.messages.begin(), r.messages.end());
  }
  // A request's template must be one we render; a Modelfile's unknown one falls back to the GGUF's.
  const bool from_request = !r.template_text.empty();
  SKV_ASSIGN_OR_RETURN(std::string text,
                       model.RenderChat(messages, from_request ? r.template_text : entry.template_text, from_request));
  tokens = r.context;
  SKV_ASSIGN_OR_RETURN(auto t, model.Tokenize(text, /*add_special=*/r.context.empty()));
  tokens.insert(tokens.end(), t.begin(), t.end());
  return tokens;
}

// Serialises one piece of streamed text for the request's API.
std::string StreamText(ActiveGeneration& g, const std::string& text) {
  if (g.request.is_openai()) {
    std::string out = SseEvent(OpenAIChunk(g.request.kind, g.meta, text, g.first_chunk));
    g.first_chunk = false;
    return out;
  }
  return NdjsonLine(OllamaChunk(g.request.kind, g.meta, text));
}

// The end of a stream: final message (or an error object) and, for OpenAI, [DONE].
std::string StreamEnd(ActiveGeneration& g, const GenerationStream::Pending& p) {
  const ApiRequest& r = g.request;
  if (!p.status.ok()) {
    if (r.is_openai()) return "data: " + ErrorBody(true, HttpStatusFor(p.status), p.status.message()) + "\n\ndata: [DONE]\n\n";
    return ErrorBody(false, HttpStatusFor(p.status), p.status.message()) + "\n";
  }
  if (!r.is_openai()) return NdjsonLine(OllamaFinal(r.kind, g.meta, "", g.Counts(p.stats)));
  std::string out = SseEvent(OpenAIFinalChunk(r.kind, g.meta, p.stats.finish_reason));
  if (r.include_usage) out += SseEvent(OpenAIUsageChunk(r.kind, g.meta, p.stats));
  return out + "data: [DONE]\n\n";
}

}  // namespace

void HttpServer::HandleGeneration(int kind_int, const httplib::Request& req, httplib::Response& res) {
  const ApiKind kind = static_cast<ApiKind>(kind_int);
  const bool openai = kind == ApiKind::kOpenAIChat || kind == ApiKind::kOpenAICompletion;
  auto fail = [&](const Status& s) {
    int code = HttpStatusFor(s);
    res.status = code;
    if (code == 503) res.set_header("Retry-After", std::to_string(options_.retry_after_s));
    res.set_content(ErrorBody(openai, code, s.message()), "application/json; charset=utf-8");
  };
  // --generation-timeout: a wall deadline from the request's arrival; 0 = none.
  const int64_t deadline_ns = options_.generation_timeout_ms * 1000000;
  auto timed_out = [deadline_ns](const ActiveGeneration& a) {
    return deadline_ns > 0 && MonotonicNanos() - a.start_ns > deadline_ns;
  };
  auto g = std::make_shared<ActiveGeneration>();
  g->start_ns = MonotonicNanos();
  g->metrics = metrics_;

  auto parsed = ParseApiRequest(kind, req.body);
  if (!parsed.ok()) return fail(parsed.status());
  g->request = std::move(parsed).value();
  const ApiRequest& r = g->request;
  const ModelEntry* entry = registry_->Find(r.model);
  if (entry == nullptr) return fail(NotFoundError("model '" + r.model + "' not found"));
  if (!entry->params_json.empty()) {
    // Parse again with the model's default options underneath the request's own.
    auto with_defaults = ParseApiRequest(kind, req.body, entry->params_json);
    if (!with_defaults.ok()) return fail(with_defaults.status());
    g->request = std::move(with_defaults).value();
  }
  g->meta.model = r.model;
  g->meta.id = NewId(kind, next_id_.fetch_add(1));
  g->meta.created_unix_s = NowUnixMs() / 1000;

  if (active_generations_.fetch_add(1) >= options_.max_active_generations) {
    active_generations_.fetch_sub(1);
    metrics_->OnQueueRejected();
    return fail(UnavailableError("server busy: " + std::to_string(options_.max_active_generations) +
                                 " generation requests already in flight; retry later"));
  }
  g->active = &active_generations_;

  int64_t load_start = MonotonicNanos();
  auto lease = models_->Acquire(*entry, r.keep_alive_ms);
  if (!lease.ok()) return fail(lease.status());
  g->lease = std::move(lease).value();
  g->load_ns = MonotonicNanos() - load_start;
  const LoadedModel& model = g->lease.model();

  // Ollama: a generate/chat with nothing to say loads (or, with keep_alive 0, unloads) the model.
  bool empty_generate = kind == ApiKind::kOllamaGenerate && r.prompt.empty() && r.context.empty();
  if (empty_generate) {
    bool unload = r.keep_alive_ms.has_value() && *r.keep_alive_ms == 0;
    json out = OllamaChunk(kind, g->meta, "");
    out["done"] = true;
    out["done_reason"] = unload ? "unload" : "load";
    res.status = 200;
    res.set_content(DumpJson(out), "application/json; charset=utf-8");
    return;
  }

  auto tokens = BuildPrompt(r, *entry, model);
  if (!tokens.ok()) return fail(tokens.status());
  g->prompt_tokens = std::move(tokens).value();
  if (g->prompt_tokens.empty()) return fail(InvalidArgumentError("the prompt is empty after tokenization"));
  const int32_t model_ctx = model.info().context_length;
  if (r.num_ctx > 0 && model_ctx > 0 && r.num_ctx > model_ctx)
    return fail(InvalidArgumentError("num_ctx " + std::to_string(r.num_ctx) + " exceeds the context length of model '" +
                                     r.model + "' (" + std::to_string(model_ctx) + ")"));
  int32_t num_ctx = r.num_ctx > 0 ? r.num_ctx : options_.default_num_ctx;
  if (r.num_ctx == 0 && model_ctx > 0) num_ctx = std::min(num_ctx, model_ctx);
  const int64_t n_prompt = static_cast<int64_t>(g->prompt_tokens.size());
  if (n_prompt >= num_ctx)
    return fail(InvalidArgumentError("the prompt is " + std::to_string(n_prompt) + " tokens but num_ctx is " +
                                     std::to_string(num_ctx) + ": no room left to generate (raise num_ctx or shorten the prompt)"));

  GenerationRequest gen;
  gen.model = entry->weights_path;
  gen.prompt_tokens = g->prompt_tokens;
  gen.sampling = r.sampling;
  gen.max_new_tokens = r.num_predict;
  gen.num_ctx = num_ctx;
  gen.stop = r.stop;
  // Fairness key: an explicit client id (header, or OpenAI's `user`), else the peer address — one
  // client with many connections is still one client.
  gen.client_id = req.has_header("X-Client-Id") ? req.get_header_value("X-Client-Id")
                  : !r.user.empty()             ? r.user
                                                : req.remote_addr;
  ServerMetrics* metrics = metrics_;
  g->stream = std::make_shared<GenerationStream>(
      [metrics](const GenerationStats& stats) { metrics->OnGenerationFinished(stats); });
  g->service = backend_->generation();
  g->submit_ns = MonotonicNanos();
  auto id = g->service->Submit(std::move(gen), g->stream);
  if (!id.ok()) return fail(id.status());
  g->id = *id;

  if (!r.stream) {
    // The connection layer tells whether the client left: checked between drains (<= 200 ms),
    // so a disconnected client's generation is cancelled and its blocks released within 1 s.
    GenerationStream::Pending p;
    while (true) {
      bool got = g->stream->Drain(&p, 200);
      if (!got || !p.finished) {
        if (ClientDisconnected()) {
          SKV_LOG(INFO) << "client of " << g->meta.id << " went away: cancelling";
          g->stream->MarkClientGone();
          return;  // ~ActiveGeneration cancels the generation
        }
        if (timed_out(*g)) {
          g->stream->MarkClientGone();
          res.status = 504;
          res.set_content(ErrorBody(openai, 504, "generation exceeded the server's deadline of " +
                                                     std::to_string(options_.generation_timeout_ms) + " ms"),
                          "application/json; charset=utf-8");
          return;
        }
      }
      if (!got) continue;
      g->text += p.text;
      g->Observe(p);
      if (p.finished) break;
    }
    if (!p.status.ok()) return fail(p.status);
    json out = openai ? OpenAIComplete(kind, g->meta, g->text, p.stats)
                      : OllamaFinal(kind, g->meta, g->text, g->Counts(p.stats));
    res.status = 200;
    res.set_content(DumpJson(out), "application/json; charset=utf-8");
    return;
  }

  res.status = 200;
  if (openai) res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      openai ? "text/event-stream" : "application/x-ndjson",
      [g, timed_out](size_t, httplib::DataSink& sink) {
        GenerationStream::Pending p;
        while (!g->stream->Drain(&p, 200)) {
          if (!sink.is_writable() || ClientDisconnected()) {  // the client went away while the engine was quiet
            g->stream->MarkClientGone();
            return false;
          }
          if (timed_out(*g)) {
            g->stream->MarkClientGone();
            return false;  // the stream ends without its final chunk: the client sees it cut
          }
        }
        g->Observe(p);
        if (!p.finished && timed_out(*g)) {
          g->stream->MarkClientGone();
          return false;
        }
        std::string out;
        // A chunk for every batch of new tokens, even when their text is still held back (an
        // incomplete UTF-8 character, a possible stop string): clients see the first token's
        // time, and a stalled-looking stream is a live one.
        if (!p.text.empty() || (!p.tokens.empty() && !p.finished)) out += StreamText(*g, p.text);
        if (p.finished) out += StreamEnd(*g, p);
        if (!out.empty() && !sink.write(out.data(), out.size())) {
          g->stream->MarkClientGone();
          return false;  // ~ActiveGeneration cancels the generation
        }
        if (p.finished) sink.done();
        return true;
      },
      [g](bool success) {
        if (!success && !g->finished) SKV_LOG(INFO) << "client of " << g->meta.id << " went away: cancelling";
      });
}

}  // namespace swarmkv
