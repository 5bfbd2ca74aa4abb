// HttpServer::HandleGeneration: the four generation routes (Ollama generate/chat, OpenAI
// chat/completions), from a JSON body to a GenerationRequest and back to NDJSON/SSE or JSON.
//
// Order of checks (each a clear JSON error): body -> model known -> admission (503 +
// Retry-After beyond max_active_generations) -> model loaded (a file that cannot be loaded: 422
// naming the reason, logged once with its path) -> num_ctx resolved (clamped to the model's
// context with a warning) -> prompt built (the chat template, or `{{ .Prompt }}` for a GGUF
// without one) and tokenized -> cut to fit num_ctx as Ollama does, or 400 with `truncate: false`
// (context_window.h) -> Submit. The admission slot and the model lease live until
// the response has been fully written (or the client went away, which cancels the generation).
#include <httplib.h>

#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "base/logging.h"
#include "base/sysinfo.h"
#include "server/api_request.h"
#include "server/api_response.h"
#include "server/context_window.h"
#include "server/unsupported_fields.h"
#include "server/connection_guard.h"
#include "server/generation_stream.h"
#include "server/http_server.h"
#include "server/pin_service.h"

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

// True when `template_text` is Ollama's default template `{{ .Prompt }}` (spacing aside).
bool IsPromptOnlyTemplate(const std::string& template_text) {
  std::string t;
  for (char c : template_text)
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r') t += c;
  return t == "{{.Prompt}}" || t == "{{-.Prompt-}}" || t == "{{-.Prompt}}" || t == "{{.Prompt-}}";
}

// How a request's prompt becomes text: the model's chat template, or Ollama's default template
// `{{ .Prompt }}` for a GGUF without tokenizer.chat_template (and no Modelfile/request template):
// the text as sent, without role markers. Through `{{ .Prompt }}` a chat is its user messages,
// concatenated (Ollama's template engine fills .Prompt per user turn; system and assistant text
// have no place in that template).
struct PromptPlan {
  bool through_template = false;          // else raw text (generate raw, completions, `{{ .Prompt }}`)
  std::vector<ApiChatMessage> messages;   // for the template, system messages included
  std::string template_text;
  bool template_required = false;
  std::string raw_text;                   // when !through_template
};

PromptPlan PlanPrompt(const ApiRequest& r, const ModelEntry& entry, bool gguf_has_template) {
  PromptPlan p;
  if (r.kind == ApiKind::kOpenAICompletion || (r.kind == ApiKind::kOllamaGenerate && r.raw)) {
    p.raw_text = r.prompt;
    return p;
  }
  const bool from_request = !r.template_text.empty();
  const std::string& chosen = from_request ? r.template_text : entry.template_text;
  const bool prompt_only = chosen.empty() ? !gguf_has_template : IsPromptOnlyTemplate(chosen);
  if (prompt_only) {
    if (r.kind == ApiKind::kOllamaGenerate) {
      p.raw_text = r.prompt;
    } else {
      for (const auto& m : r.messages)
        if (m.role == "user") p.raw_text += m.content;
    }
    return p;
  }
  p.through_template = true;
  p.template_text = chosen;
  p.template_required = from_request;
  if (r.kind == ApiKind::kOllamaGenerate) {
    std::string system = r.system.empty() ? entry.system : r.system;
    if (!system.empty()) p.messages.push_back({"system", system});
    p.messages.push_back({"user", r.prompt});
  } else {
    bool has_system = false;
    for (const auto& m : r.messages) has_system |= m.role == "system";
    if (!has_system && !entry.system.empty()) p.messages.push_back({"system", entry.system});
    p.messages.insert(p.messages.end(), r.messages.begin(), r.messages.end());
  }
  return p;
}

// The prompt's tokens for `plan` keeping the system messages before `first` and messages[first..].
Result<std::vector<int32_t>> RenderFrom(const ApiRequest& r, const PromptPlan& plan, const LoadedModel& model,
                                        size_t first) {
  std::vector<int32_t> tokens = r.context;
  std::string text = plan.raw_text;
  if (plan.through_template) {
    std::vector<ApiChatMessage> kept;
    for (size_t i = 0; i < plan.messages.size(); ++i)
      if (i >= first || plan.messages[i].role == "system") kept.push_back(plan.messages[i]);
    SKV_ASSIGN_OR_RETURN(text, model.RenderChat(kept, plan.template_text, plan.template_required));
  }
  SKV_ASSIGN_OR_RETURN(auto t, model.Tokenize(text, /*add_special=*/r.context.empty()));
  tokens.insert(tokens.end(), t.begin(), t.end());
  return tokens;
}

// The prompt's token ids, cut to fit `num_ctx` as Ollama does (context_window.h), or an error.
Result<std::vector<int32_t>> BuildPrompt(const ApiRequest& r, const ModelEntry& entry, const LoadedModel& model,
                                         bool gguf_has_template, const ContextOptions& ctx, int32_t num_ctx) {
  const PromptPlan plan = PlanPrompt(r, entry, gguf_has_template);
  SKV_ASSIGN_OR_RETURN(auto tokens, RenderFrom(r, plan, model, 0));
  const size_t n_full = tokens.size();
  if (n_full < static_cast<size_t>(num_ctx)) return tokens;
  if (!ctx.truncate)
    return InvalidArgumentError("the prompt is " + std::to_string(n_full) + " tokens but num_ctx is " +
                                std::to_string(num_ctx) + " (the model's context is " +
                                std::to_string(model.info().context_length) +
                                "); truncate is false, so it is not cut to fit");
  const size_t limit = static_cast<size_t>(num_ctx - ReserveForAnswer(num_ctx, r.num_predict));
  size_t dropped_messages = 0;
  if (plan.through_template && plan.messages.size() > 1) {
    Status render_error;
    size_t first = FirstMessageToKeep(plan.messages.size(), [&](size_t f) {
      auto t = RenderFrom(r, plan, model, f);
      if (!t.ok()) render_error = t.status();
      return t.ok() && t->size() <= limit;
    });
    SKV_RETURN_IF_ERROR(render_error);
    if (first > 0) {
      SKV_ASSIGN_OR_RETURN(tokens, RenderFrom(r, plan, model, first));
      for (size_t i = 0; i < first; ++i) dropped_messages += plan.messages[i].role != "system";
    }
  }
  const size_t n_after_messages = tokens.size();
  tokens = TruncateTokens(tokens, limit, ctx.num_keep);
  SKV_LOG(WARN) << "truncating input prompt for model '" << r.model << "': " << n_full << " tokens > num_ctx "
                << num_ctx << "; dropped " << dropped_messages << " oldest message(s) and "
                << (n_after_messages - tokens.size()) << " token(s) after the first " << ctx.num_keep << " -> "
                << tokens.size() << " tokens";
  return tokens;
}

// A model whose file cannot be loaded: the load error is the server operator's to see (once per
// file, with its path) and the client's as a 4xx naming the reason, not a 500.
bool IsModelFileError(const Status& s) {
  return s.code() == StatusCode::kCorruption || s.code() == StatusCode::kUnimplemented ||
         s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kIOError ||
         s.code() == StatusCode::kNotFound;
}

void LogLoadErrorOnce(const std::string& path, const Status& s) {
  static std::mutex mu;
  static std::set<std::string> logged;
  std::lock_guard<std::mutex> lock(mu);
  if (logged.insert(path).second) SKV_LOG(ERROR) << "cannot load model file " << path << ": " << s.ToString();
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

  const json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  // Ollama: a chat with an empty `messages` array loads (keep_alive 0: unloads) the model, as an
  // empty generate does. It is parsed as one empty user turn and answered below without one.
  const bool empty_chat = kind == ApiKind::kOllamaChat && body.is_object() && body.contains("messages") &&
                          body["messages"].is_array() && body["messages"].empty();
  std::string body_text = req.body;
  if (empty_chat) {
    json b = body;
    b["messages"] = json::array({{{"role", "user"}, {"content", ""}}});
    body_text = b.dump();
  }
  auto parsed = ParseApiRequest(kind, body_text);
  if (!parsed.ok()) return fail(parsed.status());
  g->request = std::move(parsed).value();
  const ApiRequest& r = g->request;
  const ModelEntry* entry = registry_->Find(r.model);
  if (entry == nullptr) return fail(NotFoundError("model '" + r.model + "' not found"));
  if (!entry->params_json.empty()) {
    // Parse again with the model's default options underneath the request's own.
    auto with_defaults = ParseApiRequest(kind, body_text, entry->params_json);
    if (!with_defaults.ok()) return fail(with_defaults.status());
    g->request = std::move(with_defaults).value();
  }
  if (Status u = CheckUnsupportedFields(kind, body, r.model); !u.ok()) return fail(u);
  auto ctx_options = ParseContextOptions(body);
  if (!ctx_options.ok()) return fail(ctx_options.status());
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
  if (!lease.ok()) {
    if (!IsModelFileError(lease.status())) return fail(lease.status());
    if (summaries_.Get(entry->weights_path).ok()) LogLoadErrorOnce(entry->weights_path, lease.status());
    // (else GgufSummaryCache logged the header's error, once, with the path)
    res.status = 422;
    res.set_content(ErrorBody(openai, 422, "model '" + entry->name + "' cannot be served: " + lease.status().message()),
                    "application/json; charset=utf-8");
    return;
  }
  g->lease = std::move(lease).value();
  g->load_ns = MonotonicNanos() - load_start;
  const LoadedModel& model = g->lease.model();

  // Ollama: a generate/chat with nothing to say loads (or, with keep_alive 0, unloads) the model.
  bool empty_generate = (kind == ApiKind::kOllamaGenerate && r.prompt.empty() && r.context.empty()) || empty_chat;
  if (empty_generate) {
    bool unload = r.keep_alive_ms.has_value() && *r.keep_alive_ms == 0;
    json out = OllamaChunk(kind, g->meta, "");
    out["done"] = true;
    out["done_reason"] = unload ? "unload" : "load";
    res.status = 200;
    res.set_content(DumpJson(out), "application/json; charset=utf-8");
    return;
  }

  const int32_t model_ctx = model.info().context_length;
  const ResolvedNumCtx resolved = ResolveNumCtx(r.num_ctx, options_.default_num_ctx, model_ctx);
  const int32_t num_ctx = resolved.num_ctx;
  if (resolved.clamped)
    SKV_LOG(WARN) << "requested num_ctx " << r.num_ctx << " is above the context of model '" << r.model << "' ("
                  << model_ctx << "): using " << num_ctx;
  auto summary = summaries_.Get(entry->weights_path);
  const bool gguf_has_template = !summary.ok() || !(*summary)->chat_template.empty();
  auto tokens = BuildPrompt(r, *entry, model, gguf_has_template, *ctx_options, num_ctx);
  if (!tokens.ok()) return fail(tokens.status());
  g->prompt_tokens = std::move(tokens).value();
  if (g->prompt_tokens.empty()) return fail(InvalidArgumentError("the prompt is empty after tokenization"));

  if (pins_ != nullptr) pins_->CountHit(model.info().namespace_id, g->prompt_tokens);

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
