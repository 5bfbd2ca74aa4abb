// The response parts agent clients read beyond text: tool calls, thinking, log-probabilities —
// in each API's shape, added onto the objects api_response.h builds.
//
// OpenAI: message.tool_calls [{id, type:"function", function:{name, arguments: a JSON string}}],
// finish_reason "tool_calls"; streamed as delta.tool_calls fragments — per call one chunk with
// {index, id, type, function:{name, arguments:""}} then one with {index, function:{arguments}} —
// which is how the OpenAI SDKs assemble them; reasoning_content for thinking; logprobs
// {content:[{token, logprob, bytes, top_logprobs:[...]}]} (chat) or the legacy {tokens,
// token_logprobs, top_logprobs, text_offset} (completions).
// Ollama: message.tool_calls [{function:{index, name, arguments: an object}}], message.thinking,
// logprobs [{token, logprob, bytes, top_logprobs}].
//
// Thread-safety: stateless functions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generation.h"
#include "server/tool_calls.h"

namespace swarmkv {

// The text of a token id (for logprobs).
using TokenTextFn = std::function<std::string(int32_t)>;

// `id_base` makes call ids unique per response ("call_<id_base>_<i>").
nlohmann::json OpenAIToolCalls(const std::vector<ParsedToolCall>& calls, const std::string& id_base);
// The two delta chunks' tool_calls arrays for call `index` (see the header comment).
nlohmann::json OpenAIToolCallHead(const ParsedToolCall& call, int index, const std::string& id_base);
nlohmann::json OpenAIToolCallArguments(const ParsedToolCall& call, int index);
nlohmann::json OllamaToolCalls(const std::vector<ParsedToolCall>& calls);

nlohmann::json OpenAIChatLogprobs(const std::vector<TokenLogprobs>& lps, const TokenTextFn& text);
// `text_offset_start`: the character offset of the first token in the completion.
nlohmann::json OpenAICompletionLogprobs(const std::vector<TokenLogprobs>& lps, const TokenTextFn& text,
                                        size_t text_offset_start = 0);
nlohmann::json OllamaLogprobs(const std::vector<TokenLogprobs>& lps, const TokenTextFn& text);

}  // namespace swarmkv
