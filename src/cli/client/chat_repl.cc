#include "cli/client/chat_repl.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <iostream>

#include "cli/client/chat_input.h"

namespace swarmkv::cli {

using json = nlohmann::json;

namespace {

std::atomic<bool> g_interrupted{false};

void OnSigint(int) { g_interrupted.store(true); }

// SIGINT sets a flag instead of ending the process, and interrupts a blocking read (no SA_RESTART).
class SigintScope {
 public:
  SigintScope() {
    struct sigaction sa {};
    sa.sa_handler = OnSigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintScope() { sigaction(SIGINT, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

enum class ReadResult { kLine, kEof, kInterrupted };

// A line from fd 0, byte by byte (no stdio buffer, so a Ctrl-C read is never half-consumed).
ReadResult ReadLine(std::string* line) {
  line->clear();
  while (true) {
    char c;
    ssize_t n = ::read(0, &c, 1);
    if (n < 0 && errno == EINTR) {
      if (g_interrupted.exchange(false)) return ReadResult::kInterrupted;
      continue;
    }
    if (n <= 0) return line->empty() ? ReadResult::kEof : ReadResult::kLine;
    if (c == '\n') return ReadResult::kLine;
    *line += c;
  }
}

json RequestBody(const ChatReplOptions& o, const json& messages) {
  json body = {{"model", o.model}, {"messages", messages}, {"stream", true}};
  if (!o.options.empty()) body["options"] = o.options;
  if (!o.keep_alive.empty()) body["keep_alive"] = o.keep_alive;
  return body;
}

void PrintStats(const json& final) {
  auto ns = [&](const char* k) { return final.value(k, int64_t{0}); };
  auto rate = [](int64_t n, int64_t d) { return d > 0 ? static_cast<double>(n) * 1e9 / static_cast<double>(d) : 0.0; };
  std::fprintf(stderr, "total duration:       %.3fs\nload duration:        %.3fs\n", ns("total_duration") / 1e9,
               ns("load_duration") / 1e9);
  std::fprintf(stderr, "prompt eval count:    %lld token(s)\nprompt eval rate:     %.2f tokens/s\n",
               static_cast<long long>(ns("prompt_eval_count")), rate(ns("prompt_eval_count"), ns("prompt_eval_duration")));
  std::fprintf(stderr, "eval count:           %lld token(s)\neval rate:            %.2f tokens/s\n",
               static_cast<long long>(ns("eval_count")), rate(ns("eval_count"), ns("eval_duration")));
}

// Streams one answer to stdout. Returns the assistant's text, or the error (Cancelled on Ctrl-C).
Result<std::string> Answer(const ApiClient& client, const ChatReplOptions& o, const json& messages) {
  std::string text;
  json final;
  g_interrupted.store(false);
  Status s = client.PostStream(
      "/api/chat", RequestBody(o, messages),
      [&](const json& chunk) {
        if (chunk.contains("message") && chunk["message"].is_object()) {
          std::string piece = chunk["message"].value("content", "");
          text += piece;
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
        }
        if (chunk.value("done", false)) final = chunk;
      },
      &g_interrupted);
  g_interrupted.store(false);
  if (!s.ok()) return s;
  if (o.verbose && !final.is_null()) {
    std::fputc('\n', stdout);
    PrintStats(final);
  }
  return text;
}

constexpr const char* kHelp =
    "Available Commands:\n"
    "  /clear          Clear session context\n"
    "  /bye            Exit\n"
    "  /?, /help       Help for a command\n"
    "\n"
    "Use \"\"\" to begin a multi-line message.\n";

}  // namespace

int RunRemoteChat(const ApiClient& client, const ChatReplOptions& o) {
  // Load the model first (Ollama's `run` does): an unknown or unservable model fails here, clearly.
  // Ctrl-C during the load still ends the process (the handler below is not installed yet).
  json load = {{"model", o.model}};
  if (!o.keep_alive.empty()) load["keep_alive"] = o.keep_alive;
  auto loaded = client.Post("/api/generate", load);
  if (!loaded.ok()) {
    std::cerr << "Error: " << loaded.status().message() << "\n";
    return 1;
  }

  SigintScope sigint;
  std::string prompt = o.prompt;
  const bool interactive = prompt.empty() && isatty(0);
  if (!interactive) {
    if (prompt.empty()) {
      std::string line;
      while (ReadLine(&line) == ReadResult::kLine) prompt += line + "\n";
    }
    auto a = Answer(client, o, json::array({{{"role", "user"}, {"content", prompt}}}));
    std::fputc('\n', stdout);
    if (!a.ok() && a.status().code() == StatusCode::kCancelled) return 130;  // Ctrl-C, as a shell reports it
    if (!a.ok()) {
      std::cerr << "Error: " << a.status().message() << "\n";
      return 1;
    }
    return 0;
  }

  json history = json::array();
  ChatInput input;
  std::string line;
  while (true) {
    std::fputs(input.in_multiline() ? "... " : ">>> ", stdout);
    std::fflush(stdout);
    ReadResult rr = ReadLine(&line);
    if (rr == ReadResult::kEof) {
      std::fputc('\n', stdout);
      return 0;
    }
    if (rr == ReadResult::kInterrupted) {
      input.Reset();
      std::fputs("\nUse Ctrl + d or /bye to exit.\n", stdout);
      continue;
    }
    ChatInputEvent e = input.Feed(line);
    if (e.kind == ChatInputEvent::kMore || e.kind == ChatInputEvent::kEmpty) continue;
    if (e.kind == ChatInputEvent::kCommand) {
      if (e.text == "/bye" || e.text == "/exit") return 0;
      if (e.text == "/clear") {
        history = json::array();
        std::fputs("Cleared session context\n", stdout);
      } else if (e.text == "/?" || e.text == "/help") {
        std::fputs(kHelp, stdout);
      } else {
        std::printf("Unknown command '%s'. Type /? for help\n", e.text.c_str());
      }
      continue;
    }
    history.push_back({{"role", "user"}, {"content", e.text}});
    auto a = Answer(client, o, history);
    if (a.ok()) {
      history.push_back({{"role", "assistant"}, {"content", *a}});
      std::fputs("\n\n", stdout);
    } else if (a.status().code() == StatusCode::kCancelled) {
      std::fputs("\n\n", stdout);  // stopped by Ctrl-C: the partial answer is not kept, as Ollama
    } else {
      std::fprintf(stdout, "\nError: %s\n\n", a.status().message().c_str());
    }
  }
}

}  // namespace swarmkv::cli
