// prompt_builder.h: how a request becomes prompt tokens.
#include "server/prompt_builder.h"

#include "base/logging.h"
#include "server/tool_prompt.h"

namespace swarmkv {

// True when `template_text` is Ollama's default template `{{ .Prompt }}` (spacing aside).
bool IsPromptOnlyTemplate(const std::string& template_text) {
  std::string t;
  for (char c : template_text)
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r') t += c;
  return t == "{{.Prompt}}" || t == "{{-.Prompt-}}" || t == "{{-.Prompt}}" || t == "{{.Prompt-}}";
}

PromptPlan PlanPrompt(const ApiRequest& r, const ModelEntry& entry, bool gguf_has_template) {
  PromptPlan p;
  if (r.kind == ApiKind::kOpenAICompletion || (r.kind == ApiKind::kOllamaGenerate && r.raw)) {
    p.raw_text = r.prompt;
    return p;
  }
  const bool from_request = !r.template_text.empty();
  const std::string& chosen = from_request ? r.template_text : entry.template_text;
  // NOTE: `{{ .Prompt }}` has no place for tools; a tools request on such a model goes through
  // the fallback family template with the generic tools preamble instead (docs/api.md).
  const bool prompt_only = !r.has_tools() && (chosen.empty() ? !gguf_has_template : IsPromptOnlyTemplate(chosen));
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
  if (r.think.has_value()) p.options.extra["enable_thinking"] = *r.think;
  if (!r.reasoning_effort.empty()) p.options.extra["reasoning_effort"] = r.reasoning_effort;
  return p;
}

// The prompt's tokens for `plan` keeping the system messages before `first` and messages[first..].
// `*starts_in_thinking` (optional): the rendered prompt ends inside an open <think> block.
Result<std::vector<int32_t>> RenderFrom(const ApiRequest& r, const PromptPlan& plan, const LoadedModel& model,
                                        size_t first, bool* starts_in_thinking) {
  std::vector<int32_t> tokens = r.context;
  std::string text = plan.raw_text;
  if (plan.through_template) {
    std::vector<ApiChatMessage> kept;
    for (size_t i = 0; i < plan.messages.size(); ++i)
      if (i >= first || plan.messages[i].role == "system") kept.push_back(plan.messages[i]);
    ChatRenderOptions options = plan.options;
    if (r.has_tools()) {
      if (model.RendersTools()) options.tools = r.tools;
      else kept = WithGenericToolPrompt(kept, r.tools);
    }
    SKV_ASSIGN_OR_RETURN(text, model.RenderChatWith(kept, options, plan.template_text, plan.template_required));
    if (starts_in_thinking != nullptr) {
      const size_t open = text.rfind("<think>");
      *starts_in_thinking = open != std::string::npos && text.find("</think>", open) == std::string::npos &&
                            text.find_first_not_of(" \t\r\n", open + 7) == std::string::npos;
    }
  }
  SKV_ASSIGN_OR_RETURN(auto t, model.Tokenize(text, /*add_special=*/r.context.empty()));
  tokens.insert(tokens.end(), t.begin(), t.end());
  return tokens;
}

// The prompt's token ids, cut to fit `num_ctx` as Ollama does (context_window.h), or an error.
// `*starts_in_thinking`: the rendered prompt ends inside an open <think> block.
Result<std::vector<int32_t>> BuildPrompt(const ApiRequest& r, const ModelEntry& entry, const LoadedModel& model,
                                         bool gguf_has_template, const ContextOptions& ctx, int32_t num_ctx,
                                         bool* starts_in_thinking) {
  const PromptPlan plan = PlanPrompt(r, entry, gguf_has_template);
  SKV_ASSIGN_OR_RETURN(auto tokens, RenderFrom(r, plan, model, 0, starts_in_thinking));
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
}  // namespace swarmkv
