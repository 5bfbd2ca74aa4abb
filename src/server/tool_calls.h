// Model output -> the reply's content, its thinking and its tool calls.
//
// Tool-call formats recognised (the families' own, as their chat templates teach them):
// Hermes / Qwen `<tool_call>{"name":..,"arguments":{..}}</tool_call>` (one or more), Mistral
// `[TOOL_CALLS][{"name":..,"arguments":{..}}, ...]`, Llama 3.x `<|python_tag|>{"name":..,
// "parameters":{..}}` (';'-separated) or a reply that is only such a JSON object (or an array of
// them: also what constrained decoding writes for tool_choice required/named), and functionary
// `<function=NAME>{..}</function>`. Arguments given as a JSON string are parsed into an object.
// Thinking: `<think>...</think>` at the start of the reply (or the whole reply up to `</think>`
// when the prompt already opened the think block) goes to `thinking`.
// gpt-oss (`harmony`): its channels and calls instead, see harmony_output.h.
//
// OutputSplitter is the streaming form: Push returns only text that is certainly content or
// thinking — text that may be the start of a call or a marker is held back, so a call is never
// half-emitted as content; Finish parses what was held.
//
// Thread-safety: functions are stateless; an OutputSplitter is used by one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace swarmkv {

class HarmonySplitter;

struct ParsedToolCall {
  std::string name;
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();
};

struct OutputParseOptions {
  bool tools = false;              // the request offered tools: look for calls
  bool split_thinking = false;     // move <think>...</think> to `thinking`
  bool starts_in_thinking = false; // the prompt ended inside an open <think>
  bool harmony = false;            // gpt-oss: the reply is harmony messages (harmony_output.h)
};

struct ParsedOutput {
  std::string content;
  std::string thinking;
  std::vector<ParsedToolCall> calls;
};

ParsedOutput ParseModelOutput(std::string_view text, const OutputParseOptions& options);

// Deepest nesting of [ and { outside strings in `text` (to refuse parsing what would recurse too
// deep: nlohmann's parser recurses per level).
int JsonNestingDepth(std::string_view text);
constexpr int kMaxJsonNesting = 128;

class OutputSplitter {
 public:
  explicit OutputSplitter(const OutputParseOptions& options);
  ~OutputSplitter();
  struct Delta {
    std::string content;
    std::string thinking;
  };
  Delta Push(std::string_view text);
  // Everything not yet emitted: content/thinking left, and every call (the reply's whole set).
  ParsedOutput Finish();

 private:
  OutputParseOptions options_;
  std::string buffer_;          // text not yet emitted
  bool in_thinking_ = false;
  bool after_think_ = false;      // just past </think>: leading whitespace is dropped
  bool emitted_content_ = false;  // some non-whitespace content went out
  bool holding_call_ = false;     // a call started: everything from here is held
  std::unique_ptr<HarmonySplitter> harmony_;  // options.harmony: does all the work
};

}  // namespace swarmkv
