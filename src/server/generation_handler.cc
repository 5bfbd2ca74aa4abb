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
#include "server/agent_response.h"
#include "server/api_request.h"
#include "server/api_response.h"
#include "server/context_window.h"
#include "server/unsupported_fields.h"
#include "server/connection_guard.h"
#include "server/json_limits.h"
#include "server/generation_stream.h"
#include "server/http_server.h"
#include "server/pin_service.h"
#include "server/prompt_builder.h"
#include "server/structured_request.h"
#include "server/tool_calls.h"
#include "server/tool_prompt.h"

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
  // Agent parts: how the output splits into content/thinking/calls, and the tokens' logprobs.
  OutputParseOptions parse;
  std::unique_ptr<OutputSplitter> splitter;  // streaming
  std::vector<TokenLogprobs> logprobs;
  TokenTextFn token_text;
  // n > 1: the other samples (their streams and ids), cancelled with this one.
  std::vector<std::pair<std::shared_ptr<GenerationStream>, RequestId>> samples;

  ~ActiveGeneration() {
    if (id != 0 && !finished) service->Cancel(id);
    for (auto& [stream, sid] : samples) service->Cancel(sid);  // a no-op for finished ones
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

// Sample i's seed for n > 1: distinct per sample, fixed by the request's seed when it gave one.
uint64_t gen_seed_base(const GenerationRequest& first, int32_t i) {
  const uint64_t base = first.sampling.has_seed ? first.sampling.seed : static_cast<uint64_t>(MonotonicNanos());
  return base + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i);
}

std::string NewId(ApiKind kind, uint64_t n) {
  return (kind == ApiKind::kOpenAIChat ? "chatcmpl-" : "cmpl-") + std::to_string(NowUnixMs()) + "-" + std::to_string(n);
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

// Serialises one piece of streamed output (content and/or thinking, with the logprobs of the
// tokens drained with it) for the request's API.
std::string StreamText(ActiveGeneration& g, const std::string& text, const std::string& thinking = "",
                       const std::vector<TokenLogprobs>& lps = {}) {
  const ApiRequest& r = g.request;
  if (r.is_openai()) {
    json chunk = OpenAIChunk(r.kind, g.meta, text, g.first_chunk);
    if (!thinking.empty()) chunk["choices"][0]["delta"]["reasoning_content"] = thinking;
    if (!lps.empty())
      chunk["choices"][0]["logprobs"] = r.kind == ApiKind::kOpenAIChat ? OpenAIChatLogprobs(lps, g.token_text)
                                                                        : OpenAICompletionLogprobs(lps, g.token_text);
    g.first_chunk = false;
    return SseEvent(chunk);
  }
  json chunk = OllamaChunk(r.kind, g.meta, text);
  if (!thinking.empty()) {
    if (r.kind == ApiKind::kOllamaChat) chunk["message"]["thinking"] = thinking;
    else chunk["thinking"] = thinking;
  }
  if (!lps.empty()) chunk["logprobs"] = OllamaLogprobs(lps, g.token_text);
  return NdjsonLine(chunk);
}

// The end of a stream: what the splitter held (content, and the tool calls as their API streams
// them), the final message (or an error object) and, for OpenAI, [DONE].
std::string StreamEnd(ActiveGeneration& g, const GenerationStream::Pending& p) {
  const ApiRequest& r = g.request;
  if (!p.status.ok()) {
    if (r.is_openai()) return "data: " + ErrorBody(true, HttpStatusFor(p.status), p.status.message()) + "\n\ndata: [DONE]\n\n";
    return ErrorBody(false, HttpStatusFor(p.status), p.status.message()) + "\n";
  }
  std::string out;
  ParsedOutput rest = g.splitter->Finish();
  if (!r.parallel_tool_calls && rest.calls.size() > 1) rest.calls.resize(1);  // one call, as asked
  if (!rest.content.empty() || !rest.thinking.empty()) out += StreamText(g, rest.content, rest.thinking);
  if (!r.is_openai()) {
    if (!rest.calls.empty()) {
      json chunk = OllamaChunk(r.kind, g.meta, "");
      chunk["message"]["tool_calls"] = OllamaToolCalls(rest.calls);
      out += NdjsonLine(chunk);
    }
    return out + NdjsonLine(OllamaFinal(r.kind, g.meta, "", g.Counts(p.stats)));
  }
  for (size_t i = 0; i < rest.calls.size(); ++i) {
    for (json tc : {OpenAIToolCallHead(rest.calls[i], static_cast<int>(i), g.meta.id),
                    OpenAIToolCallArguments(rest.calls[i], static_cast<int>(i))}) {
      json chunk = OpenAIChunk(r.kind, g.meta, "", g.first_chunk);
      g.first_chunk = false;
      json& delta = chunk["choices"][0]["delta"];
      delta.erase("content");
      delta["tool_calls"] = tc;
      out += SseEvent(chunk);
    }
  }
  json fin = OpenAIFinalChunk(r.kind, g.meta, p.stats.finish_reason);
  if (!rest.calls.empty()) fin["choices"][0]["finish_reason"] = "tool_calls";
  out += SseEvent(fin);
  if (r.include_usage) out += SseEvent(OpenAIUsageChunk(r.kind, g.meta, p.stats));
  return out + "data: [DONE]\n\n";
}

// One finished sample's response parts.
struct Sample {
  std::string text;
  std::vector<TokenLogprobs> logprobs;
  GenerationStats stats;
  Status status;
};

// Drains `stream` to its end (non-streamed responses).
Sample Collect(GenerationStream& stream, ActiveGeneration* g) {
  Sample s;
  GenerationStream::Pending p;
  while (true) {
    if (!stream.Drain(&p, 1000)) continue;
    s.text += p.text;
    s.logprobs.insert(s.logprobs.end(), p.logprobs.begin(), p.logprobs.end());
    if (g != nullptr) g->Observe(p);
    if (p.finished) break;
  }
  s.status = p.status;
  s.stats = p.stats;
  return s;
}

// The OpenAI choice / Ollama message of a finished sample: content, thinking, tool calls, logprobs.
void DecorateChoice(const ActiveGeneration& g, const Sample& s, int index, json* choice) {
  const ApiRequest& r = g.request;
  ParsedOutput parsed = ParseModelOutput(s.text, g.parse);
  if (!r.parallel_tool_calls && parsed.calls.size() > 1) parsed.calls.resize(1);
  if (r.is_openai()) {
    (*choice)["index"] = index;
    if (r.kind == ApiKind::kOpenAIChat) {
      json& m = (*choice)["message"];
      m["content"] = parsed.content.empty() && !parsed.calls.empty() ? json(nullptr) : json(parsed.content);
      if (!parsed.thinking.empty()) m["reasoning_content"] = parsed.thinking;
      if (!parsed.calls.empty()) {
        m["tool_calls"] = OpenAIToolCalls(parsed.calls, g.meta.id + "_" + std::to_string(index));
        (*choice)["finish_reason"] = "tool_calls";
      }
      if (r.logprobs) (*choice)["logprobs"] = OpenAIChatLogprobs(s.logprobs, g.token_text);
    } else if (r.logprobs) {
      (*choice)["logprobs"] = OpenAICompletionLogprobs(s.logprobs, g.token_text);
    }
    return;
  }
  json& out = *choice;  // Ollama: the final object
  if (r.kind == ApiKind::kOllamaChat) {
    out["message"]["content"] = parsed.content;
    if (!parsed.thinking.empty()) out["message"]["thinking"] = parsed.thinking;
    if (!parsed.calls.empty()) out["message"]["tool_calls"] = OllamaToolCalls(parsed.calls);
  } else {
    out["response"] = parsed.content;
    if (!parsed.thinking.empty()) out["thinking"] = parsed.thinking;
  }
  if (r.logprobs) out["logprobs"] = OllamaLogprobs(s.logprobs, g.token_text);
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

  auto limited = ParseJsonLimited(req.body);
  if (!limited.ok()) return fail(limited.status());
  const json body = std::move(limited).value();
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
  auto grammar = OutputGrammarFor(g->request);
  if (!grammar.ok()) return fail(grammar.status());
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

  if (r.think.value_or(false) && !model.Thinks()) {
    const char* field = openai ? "reasoning_effort" : "think";
    return fail(InvalidArgumentError(std::string("field '") + field + "': \"" + r.model +
                                     "\" does not support thinking (its template has no thinking switch)"));
  }
  const int32_t model_ctx = model.info().context_length;
  const ResolvedNumCtx resolved = ResolveNumCtx(r.num_ctx, options_.default_num_ctx, model_ctx);
  const int32_t num_ctx = resolved.num_ctx;
  if (resolved.clamped)
    SKV_LOG(WARN) << "requested num_ctx " << r.num_ctx << " is above the context of model '" << r.model << "' ("
                  << model_ctx << "): using " << num_ctx;
  auto summary = summaries_.Get(entry->weights_path);
  const bool gguf_has_template = !summary.ok() || !(*summary)->chat_template.empty();
  bool starts_in_thinking = false;
  auto tokens = BuildPrompt(r, *entry, model, gguf_has_template, *ctx_options, num_ctx, &starts_in_thinking);
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
  gen.top_logprobs = r.logprobs ? r.top_logprobs : -1;
  g->token_text = [lm = &model](int32_t t) { return lm->TokenText(t); };
  g->parse.tools = r.has_tools();
  g->parse.split_thinking = r.is_openai() ? r.is_chat() : r.think.value_or(false);
  g->parse.starts_in_thinking = starts_in_thinking;
  // gpt-oss: a prompt its template rendered ends in `<|start|>assistant`; the reply is harmony —
  // unless constrained decoding writes it (a JSON value or call, parsed as for any model).
  g->parse.harmony = model.SpeaksHarmony() && !grammar->has_value() && kind != ApiKind::kOpenAICompletion &&
                     !(kind == ApiKind::kOllamaGenerate && r.raw);
  g->splitter = std::make_unique<OutputSplitter>(g->parse);
  // Constrained decoding: one constraint per sample (it carries the sample's state).
  std::optional<OutputGrammar> output_grammar = *grammar;
  auto make_constraint = [&]() -> Result<std::shared_ptr<TokenConstraint>> {
    if (!output_grammar.has_value()) return std::shared_ptr<TokenConstraint>();
    std::shared_ptr<const JsonGrammar> compiled = output_grammar->grammar;
    return model.MakeConstraint(output_grammar->key, [compiled]() -> Result<JsonGrammar> { return *compiled; });
  };
  {
    auto c = make_constraint();
    if (!c.ok()) return fail(c.status());
    gen.constraint = std::move(c).value();
  }
  const GenerationRequest sample_template = gen;  // n > 1: the other samples differ in seed and constraint
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
    if (r.n > 1) {
      // The other samples start once the first has sampled its first token: its prompt's KV is
      // then in the cache, so they attach it instead of computing it again (cached_tokens).
      GenerationStream::Pending first;
      while (!g->stream->Drain(&first, 1000)) {
      }
      for (int32_t i = 1; i < r.n; ++i) {
        GenerationRequest more = sample_template;
        more.sampling.seed = gen_seed_base(sample_template, i);
        more.sampling.has_seed = true;
        auto c = make_constraint();
        if (!c.ok()) return fail(c.status());
        more.constraint = std::move(c).value();
        auto stream = std::make_shared<GenerationStream>(
            [metrics](const GenerationStats& stats) { metrics->OnGenerationFinished(stats); });
        auto sid = g->service->Submit(std::move(more), stream);
        if (!sid.ok()) return fail(sid.status());
        g->samples.emplace_back(stream, *sid);
      }
      g->Observe(first);
      Sample s0;
      if (!first.finished) s0 = Collect(*g->stream, g.get());  // (a finished stream sends nothing more)
      s0.text = first.text + s0.text;
      s0.logprobs.insert(s0.logprobs.begin(), first.logprobs.begin(), first.logprobs.end());
      if (first.finished) s0.stats = first.stats, s0.status = first.status;
      std::vector<Sample> all = {s0};
      for (auto& [stream, sid] : g->samples) all.push_back(Collect(*stream, nullptr));
      GenerationStats total = all[0].stats;
      total.generated_tokens = 0;
      total.prompt_tokens_reused = 0;
      for (const auto& x : all) {
        if (!x.status.ok()) return fail(x.status);
        total.generated_tokens += x.stats.generated_tokens;
        total.prompt_tokens_reused += x.stats.prompt_tokens_reused;
      }
      json out = OpenAIComplete(kind, g->meta, "", all[0].stats);
      json choices = json::array();
      for (size_t i = 0; i < all.size(); ++i) {
        json choice = out["choices"][0];
        choice["finish_reason"] = OpenAIFinishReason(all[i].stats.finish_reason);
        if (kind == ApiKind::kOpenAIChat) choice["message"]["content"] = all[i].text;
        else choice["text"] = all[i].text;
        DecorateChoice(*g, all[i], static_cast<int>(i), &choice);
        choices.push_back(choice);
      }
      out["choices"] = choices;
      // One prompt, every sample's completion. cached_tokens is the first sample's (what the
      // prompt found in the cache); swarmkv_sample_cached_tokens shows the others forking its KV.
      out["usage"] = OpenAIUsage(all[0].stats);
      out["usage"]["completion_tokens"] = total.generated_tokens;
      out["usage"]["total_tokens"] = all[0].stats.prompt_tokens + total.generated_tokens;
      json per_sample = json::array();
      for (const auto& x : all) per_sample.push_back(x.stats.prompt_tokens_reused);
      out["usage"]["swarmkv_sample_cached_tokens"] = per_sample;
      res.status = 200;
      res.set_content(DumpJson(out), "application/json; charset=utf-8");
      return;
    }
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
      g->logprobs.insert(g->logprobs.end(), p.logprobs.begin(), p.logprobs.end());
      g->Observe(p);
      if (p.finished) break;
    }
    if (!p.status.ok()) return fail(p.status);
    Sample s0;
    s0.text = g->text;
    s0.logprobs = g->logprobs;
    s0.stats = p.stats;
    json out = openai ? OpenAIComplete(kind, g->meta, s0.text, s0.stats)
                      : OllamaFinal(kind, g->meta, s0.text, g->Counts(s0.stats));
    if (openai) DecorateChoice(*g, s0, 0, &out["choices"][0]);
    else DecorateChoice(*g, s0, 0, &out);
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
        OutputSplitter::Delta d = g->splitter->Push(p.text);
        if (!d.content.empty() || !d.thinking.empty() || !p.logprobs.empty() || (!p.tokens.empty() && !p.finished))
          out += StreamText(*g, d.content, d.thinking, p.logprobs);
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
