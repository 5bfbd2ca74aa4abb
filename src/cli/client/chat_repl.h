// The client side of `swarmkv run NAME [PROMPT]` against a running server (Ollama's `ollama run`):
// with a prompt (or piped stdin), one streamed answer; on a terminal, an interactive chat whose
// history is sent with every turn (/api/chat), multi-line input with """, /clear (forget the
// history), /bye or Ctrl-D (leave), Ctrl-C (stop the answer being generated, stay in the chat;
// at the prompt, a hint how to leave).
//
// Thread-safety: one REPL per process (it owns SIGINT while it runs).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cli/client/api_client.h"

namespace swarmkv::cli {

struct ChatReplOptions {
  std::string model;
  std::string prompt;           // "" => interactive (or stdin when it is not a terminal)
  nlohmann::json options;       // Ollama `options` sent with every request (may be empty)
  std::string keep_alive;       // "" => the server's default
  bool verbose = false;         // print Ollama's timing summary after each answer
};

// Returns the process exit code (0, 1 on a server error before any chat).
int RunRemoteChat(const ApiClient& client, const ChatReplOptions& options);

}  // namespace swarmkv::cli
