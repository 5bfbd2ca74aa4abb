// gpt-oss's reply in OpenAI's harmony format -> content, thinking and tool calls.
//
// A harmony reply is a sequence of messages, each `<|start|>ROLE HEADER<|message|>BODY` closed
// by `<|end|>` (more messages follow), `<|call|>` (a tool call: the reply ends) or `<|return|>`
// (the reply ends). The prompt ends with `<|start|>assistant`, so the first message's header
// comes first. The header names the channel (`<|channel|>analysis|commentary|final`) and, for a
// tool call, the recipient (`to=functions.NAME`, before or after the channel) and the content
// type (`json`, `<|constrain|>json`). Routing, as OpenAI's and Ollama's gpt-oss replies do it:
// analysis -> thinking; final, and commentary without a recipient (a preamble) -> content; a
// message with a recipient -> a tool call whose arguments are the body's JSON (when the request
// offered tools; otherwise its body is content). A reply with no harmony framing at all is
// content.
//
// Invariant: Push returns only text that is certainly thinking or content of a finished header
// (text that may be the start of a framing token is held back); call arguments are never
// streamed, they come with Finish. Buffers are bounded: a header longer than kMaxHeaderBytes is
// not a header and is emitted as content.
//
// Thread-safety: used by one thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/tool_calls.h"

namespace swarmkv {

class HarmonySplitter {
 public:
  explicit HarmonySplitter(bool tools) : tools_(tools) {}
  OutputSplitter::Delta Push(std::string_view text);
  ParsedOutput Finish();

  static constexpr size_t kMaxHeaderBytes = 1024;

 private:
  enum class State { kHeader, kBody, kBetween };
  enum class Target { kThinking, kContent, kCall };
  void StartBody();
  void Emit(std::string_view text, OutputSplitter::Delta* d);
  void EndMessage();

  bool tools_;
  State state_ = State::kHeader;
  Target target_ = Target::kContent;
  std::string buffer_;     // text not yet routed
  std::string header_;     // the current message's header so far
  std::string recipient_;  // the current message's `to=` recipient
  std::string call_args_;  // the current call's body
  std::string late_content_;  // content only known at the end (a call that did not parse)
  std::vector<ParsedToolCall> calls_;
};

}  // namespace swarmkv
