// How a request becomes prompt tokens — one path for the generation routes and for pins.
//
// The model's chat template renders the messages, or Ollama's default template `{{ .Prompt }}`
// applies for a GGUF without tokenizer.chat_template (and no Modelfile/request template): the text
// as sent, without role markers — through `{{ .Prompt }}` a chat is its user messages concatenated
// (Ollama fills .Prompt per user turn; system and assistant text have no place in that template).
//
// Invariant: a pin created from `messages` and a chat request with the same messages produce the
// same leading tokens (both come from PlanPrompt + RenderFrom), so the pin is the chat's prefix.
//
// Thread-safety: pure functions over their arguments.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/status.h"
#include "server/api_request.h"
#include "server/backend.h"
#include "server/context_window.h"
#include "server/model_registry.h"

namespace swarmkv {

// True when `template_text` is Ollama's default template `{{ .Prompt }}` (spacing aside).
bool IsPromptOnlyTemplate(const std::string& template_text);

struct PromptPlan {
  bool through_template = false;          // else raw text (generate raw, completions, `{{ .Prompt }}`)
  std::vector<ApiChatMessage> messages;   // for the template, system messages included
  std::string template_text;
  bool template_required = false;
  std::string raw_text;                   // when !through_template
  ChatRenderOptions options;              // tools, enable_thinking
};

// `gguf_has_template`: the model file carries tokenizer.chat_template.
PromptPlan PlanPrompt(const ApiRequest& r, const ModelEntry& entry, bool gguf_has_template);

// The prompt's tokens for `plan` keeping the system messages before `first` and messages[first..].
// `*starts_in_thinking` (optional): the rendered prompt ends inside an open <think> block.
Result<std::vector<int32_t>> RenderFrom(const ApiRequest& r, const PromptPlan& plan, const LoadedModel& model,
                                        size_t first, bool* starts_in_thinking = nullptr);

// The prompt's token ids, cut to fit `num_ctx` as Ollama does (context_window.h), or an error.
Result<std::vector<int32_t>> BuildPrompt(const ApiRequest& r, const ModelEntry& entry, const LoadedModel& model,
                                         bool gguf_has_template, const ContextOptions& ctx, int32_t num_ctx,
                                         bool* starts_in_thinking);

}  // namespace swarmkv
