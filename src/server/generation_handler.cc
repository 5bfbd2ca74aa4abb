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
#include "server/agent_response.h"
#include "server/api_request.h"
#include "server/api_response.h"
#include "server/generation_stream.h"
#include "server/http_server.h"
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

// The prompt's token ids for `r` on `model` (chat template unless raw), or an error.
// `*starts_in_thinking`: the rendered prompt ends inside an open <think> block.
Result<std::vector<int32_t>> BuildPrompt(const ApiRequest& r, const ModelEntry& entry, const LoadedModel& model,
                                         bool* starts_in_thinking) {
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
  ChatRenderOptions options;
  if (r.think.has_value()) options.extra["enable_thinking"] = *r.think;
  if (r.has_tools()) {
    if (model.RendersTools()) options.tools = r.tools;
    else messages = WithGenericToolPrompt(messages, r.tools);
  }
  SKV_ASSIGN_OR_RETURN(std::string text, model.RenderChatWith(messages, options,
                                                              from_request ? r.template_text : entry.template_text,
                                                              from_request));
  const size_t open = text.rfind("<think>");
  *starts_in_thinking = open != std::string::npos && text.find("</think>", open) == std::string::npos &&
                        text.find_first_not_of(" \t\r\n", open + 7) == std::string::npos;
  tokens = r.context;
  SKV_ASSIGN_OR_RETURN(auto t, model.Tokenize(text, /*add_special=*/r.context.empty()));
  tokens.insert(tokens.end(), t.begin(), t.end());
  return tokens;
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
  auto grammar = OutputGrammarFor(g->request);
  if (!grammar.ok()) return fail(grammar.status());
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

  bool starts_in_thinking = false;
  auto tokens = BuildPrompt(r, *entry, model, &starts_in_thinking);
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
  gen.top_logprobs = r.logprobs ? r.top_logprobs : -1;
  g->token_text = [lm = &model](int32_t t) { return lm->TokenText(t); };
  g->parse.tools = r.has_tools();
  g->parse.split_thinking = r.is_openai() ? r.is_chat() : r.think.value_or(false);
  g->parse.starts_in_thinking = starts_in_thinking;
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
    // NOTE: cpp-httplib 0.11 gives a handler no way to notice a client that left before the
    // response; a non-streamed generation therefore runs to its end (bounded by num_predict/num_ctx).
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
    Sample s0 = Collect(*g->stream, g.get());
    if (!s0.status.ok()) return fail(s0.status);
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
      [g](size_t, httplib::DataSink& sink) {
        GenerationStream::Pending p;
        while (!g->stream->Drain(&p, 200)) {
          if (!sink.is_writable()) {  // the client went away while the engine was quiet
            g->stream->MarkClientGone();
            return false;
          }
        }
        g->Observe(p);
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
