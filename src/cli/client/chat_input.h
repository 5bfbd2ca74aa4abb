// ChatInput: turns the lines a user types at `swarmkv run NAME` into messages and commands, with
// Ollama's conventions: a line opening with """ starts a multi-line message that ends at a line
// closing with """ (the lines joined by "\n"); outside one, a line starting with '/' is a command
// (/bye, /clear, /?, /help); an empty line is nothing.
//
// Invariant: after Feed returns a non-kMore event, no partial multi-line text is held.
// Thread-safety: none (one per REPL).
#pragma once

#include <string>

namespace swarmkv::cli {

struct ChatInputEvent {
  enum Kind { kMore, kEmpty, kMessage, kCommand };
  Kind kind = kMore;
  std::string text;  // the message, or the command word ("/bye") for kCommand
};

class ChatInput {
 public:
  ChatInputEvent Feed(const std::string& line);
  // True while inside a """ block (the prompt shows "... ").
  bool in_multiline() const { return in_multiline_; }
  void Reset();

 private:
  bool in_multiline_ = false;
  std::string buffer_;
};

}  // namespace swarmkv::cli
