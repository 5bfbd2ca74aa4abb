#include "server/agent_response.h"

#include "server/api_response.h"

namespace swarmkv {

using json = nlohmann::json;

namespace {

std::string CallId(const std::string& id_base, int index) { return "call_" + id_base + "_" + std::to_string(index); }

// Arguments as the compact JSON text OpenAI sends.
std::string ArgumentsText(const ParsedToolCall& c) {
  return c.arguments.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

json Bytes(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

json Entry(const TokenLogprob& lp, const TokenTextFn& text) {
  const std::string t = text(lp.token);
  return {{"token", t}, {"logprob", lp.logprob}, {"bytes", Bytes(t)}};
}

}  // namespace

json OpenAIToolCalls(const std::vector<ParsedToolCall>& calls, const std::string& id_base) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i)
    out.push_back({{"id", CallId(id_base, static_cast<int>(i))},
                   {"type", "function"},
                   {"function", {{"name", calls[i].name}, {"arguments", ArgumentsText(calls[i])}}}});
  return out;
}

json OpenAIToolCallHead(const ParsedToolCall& call, int index, const std::string& id_base) {
  return json::array({{{"index", index},
                       {"id", CallId(id_base, index)},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", ""}}}}});
}

json OpenAIToolCallArguments(const ParsedToolCall& call, int index) {
  return json::array({{{"index", index}, {"function", {{"arguments", ArgumentsText(call)}}}}});
}

json OllamaToolCalls(const std::vector<ParsedToolCall>& calls) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i)
    out.push_back({{"function", {{"index", i}, {"name", calls[i].name}, {"arguments", json(calls[i].arguments)}}}});
  return out;
}

json OpenAIChatLogprobs(const std::vector<TokenLogprobs>& lps, const TokenTextFn& text) {
  json content = json::array();
  for (const auto& lp : lps) {
    json e = Entry(lp.chosen, text);
    json top = json::array();
    for (const auto& t : lp.top) top.push_back(Entry(t, text));
    e["top_logprobs"] = top;
    content.push_back(e);
  }
  return {{"content", content}, {"refusal", nullptr}};
}

json OpenAICompletionLogprobs(const std::vector<TokenLogprobs>& lps, const TokenTextFn& text, size_t offset) {
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(), offsets = json::array();
  for (const auto& lp : lps) {
    const std::string t = text(lp.chosen.token);
    tokens.push_back(t);
    token_logprobs.push_back(lp.chosen.logprob);
    json alt = json::object();
    for (const auto& a : lp.top) alt[text(a.token)] = a.logprob;
    top.push_back(alt);
    offsets.push_back(offset);
    offset += t.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

json OllamaLogprobs(const std::vector<TokenLogprobs>& lps, const TokenTextFn& text) {
  json out = json::array();
  for (const auto& lp : lps) {
    json e = Entry(lp.chosen, text);
    if (!lp.top.empty()) {
      json top = json::array();
      for (const auto& t : lp.top) top.push_back(Entry(t, text));
      e["top_logprobs"] = top;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace swarmkv
