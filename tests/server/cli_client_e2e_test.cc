// The Ollama-style CLI against a running `swarmkv serve`: `swarmkv list/ps/show/stop/run NAME`
// as an Ollama user types them ($SWARMKV_HOST), and the interactive chat in a real terminal
// (tmux send-keys / capture-pane): history, multi-line """ input, /clear, Ctrl-C, /bye.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "base/env.h"
#include "base/testing.h"
#include "server_fixture.h"

namespace swarmkv::e2e {
namespace {

class CliClientTest : public ServerE2ETest {
 protected:
  std::string HostEnv() { return "SWARMKV_HOST=127.0.0.1:" + std::to_string(port()) + " "; }
  CmdResult Swarmkv(const std::string& args) {
    return RunShell(HostEnv() + ShellQuote(SWARMKV_BIN) + " " + args + " 2>&1");
  }
};

TEST_F(CliClientTest, ListPsShowStopAndOneShotRunAsOllamaUsersTypeThem) {
  StartServer();
  REQUIRE_ENGINE();
  auto list = Swarmkv("list");
  EXPECT_EQ(list.exit_code, 0) << list.out;
  EXPECT_EQ(list.out.rfind("NAME", 0), 0u) << list.out;
  for (const char* col : {"ID", "SIZE", "MODIFIED", "tiny:latest"}) EXPECT_NE(list.out.find(col), std::string::npos) << list.out;
  EXPECT_EQ(Swarmkv("ls").out, list.out) << "`ls` is `list`, as in Ollama";

  auto run = Swarmkv("run tiny Once upon a time --temperature 0 -n 8");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_GT(run.out.size(), 1u) << run.out;
  auto again = Swarmkv("run tiny:latest Once upon a time --temperature 0 -n 8");
  EXPECT_EQ(again.out, run.out) << "the served name with its tag, and greedy decoding is repeatable";
  auto piped = RunShell("echo 'Once upon a time' | " + HostEnv() + ShellQuote(SWARMKV_BIN) + " run tiny -n 4 --temperature 0");
  EXPECT_EQ(piped.exit_code, 0) << piped.out;

  auto ps = Swarmkv("ps");
  EXPECT_EQ(ps.exit_code, 0) << ps.out;
  EXPECT_NE(ps.out.find("tiny:latest"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("minutes from now"), std::string::npos) << "keep_alive 5m: " << ps.out;

  auto show = Swarmkv("show tiny");
  EXPECT_EQ(show.exit_code, 0) << show.out;
  for (const char* s : {"architecture", "llama", "parameters", "context length", "2048", "completion"})
    EXPECT_NE(show.out.find(s), std::string::npos) << s << " in\n" << show.out;

  auto stop = Swarmkv("stop tiny");
  EXPECT_EQ(stop.exit_code, 0) << stop.out;
  EXPECT_EQ(Swarmkv("ps").out.find("tiny:latest"), std::string::npos) << "stopped: no longer loaded";
  auto stop_again = Swarmkv("stop tiny");
  EXPECT_EQ(stop_again.exit_code, 1);
  EXPECT_NE(stop_again.out.find("couldn't find model"), std::string::npos) << stop_again.out;

  auto unknown = Swarmkv("run nope hello");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.out.find("model 'nope' not found"), std::string::npos) << unknown.out;
}

TEST_F(CliClientTest, NoServerTheHelpAndAMistypedCommand) {
  auto none = RunShell("SWARMKV_HOST=127.0.0.1:1 " + ShellQuote(SWARMKV_BIN) + " list 2>&1");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.out.find("cannot reach the server at 127.0.0.1:1"), std::string::npos) << none.out;
  auto typo = RunShell(ShellQuote(SWARMKV_BIN) + " lst 2>&1");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.out.find("did you mean 'list'"), std::string::npos) << typo.out;
  auto help = RunShell(ShellQuote(SWARMKV_BIN) + " serve --help 2>&1");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("11434"), std::string::npos) << "defaults shown in --help:\n" << help.out;
  EXPECT_NE(help.out.find("-m,--model"), std::string::npos) << help.out;
  auto run_help = RunShell(ShellQuote(SWARMKV_BIN) + " run --help 2>&1");
  EXPECT_NE(run_help.out.find("128"), std::string::npos) << "run's -n default:\n" << run_help.out;
}

// `serve -m PATH` (llama-server's spelling) names the model after its file.
TEST_F(CliClientTest, ServeDashMPathNamesTheModelByItsFileStem) {
  StartServer({"-m", model_path_});
  std::string stem = model_path_.substr(model_path_.find_last_of('/') + 1);
  stem = stem.substr(0, stem.size() - 5);
  auto list = Swarmkv("list");
  EXPECT_NE(list.out.find(stem + ":latest"), std::string::npos) << list.out;
}

// A real terminal: tmux runs `swarmkv run tiny`; the test types as a user would.
class Tmux {
 public:
  explicit Tmux(std::string session) : session_(std::move(session)) {}
  ~Tmux() { RunShell("tmux kill-session -t " + session_ + " 2>/dev/null"); }
  bool Start(const std::string& command) {
    return RunShell("tmux new-session -d -s " + session_ + " -x 160 -y 60 " + ShellQuote(command)).exit_code == 0;
  }
  void Type(const std::string& text) { RunShell("tmux send-keys -t " + session_ + " -l " + ShellQuote(text)); }
  void Key(const std::string& key) { RunShell("tmux send-keys -t " + session_ + " " + key); }
  std::string Screen() { return RunShell("tmux capture-pane -p -S -200 -t " + session_ + " 2>&1").out; }
  bool Alive() { return RunShell("tmux has-session -t " + session_ + " 2>/dev/null").exit_code == 0; }
  // Polls the screen until `pred` holds (a terminal gives no event to wait on), up to `timeout_s`.
  template <typename Pred>
  bool WaitFor(Pred pred, double timeout_s = 60) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      if (pred(Screen())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  std::string session_;
};

// Lines of the screen that start with `prefix` (capture-pane drops trailing spaces: ">>> " is ">>>").
size_t Lines(const std::string& screen, const std::string& prefix) {
  size_t n = 0, start = 0;
  while (start < screen.size()) {
    size_t end = screen.find('\n', start);
    if (end == std::string::npos) end = screen.size();
    if (screen.compare(start, prefix.size(), prefix) == 0) ++n;
    start = end + 1;
  }
  return n;
}

std::vector<int> PromptEvalCounts(const std::string& screen) {
  std::vector<int> out;
  const std::string key = "prompt eval count:";
  for (size_t p = screen.find(key); p != std::string::npos; p = screen.find(key, p + 1))
    out.push_back(std::atoi(screen.c_str() + p + key.size()));
  return out;
}

TEST_F(CliClientTest, InteractiveChatInARealTerminal) {
  if (RunShell("command -v tmux").exit_code != 0) GTEST_SKIP() << "tmux is not installed (scripts/install-deps.sh)";
  StartServer();
  REQUIRE_ENGINE();
  Tmux t("swarmkv-chat-" + std::to_string(getpid()));
  std::string marker = dir_ + "/exited";
  ASSERT_TRUE(t.Start(HostEnv() + ShellQuote(SWARMKV_BIN) + " run tiny -n 24 --temperature 0 --verbose; echo exit=$? > " +
                      ShellQuote(marker) + "; sleep 600"));
  ASSERT_TRUE(t.WaitFor([](const std::string& s) { return Lines(s, ">>>") >= 1; })) << t.Screen();

  // One message: a streamed answer, then the prompt again.
  t.Type("Once upon a time");
  t.Key("Enter");
  ASSERT_TRUE(t.WaitFor([](const std::string& s) { return Lines(s, ">>>") >= 2; })) << t.Screen();

  // Multi-line input, Ollama's """ convention: continuation prompts, one message.
  t.Type(R"("""There was a cat)");
  t.Key("Enter");
  ASSERT_TRUE(t.WaitFor([](const std::string& s) { return Lines(s, "...") >= 1; })) << t.Screen();
  t.Type(R"(and a dog""")");
  t.Key("Enter");
  ASSERT_TRUE(t.WaitFor([](const std::string& s) { return Lines(s, ">>>") >= 3; })) << t.Screen();
  // /clear forgets the history: the next turn's prompt is short again.
  t.Type("/clear");
  t.Key("Enter");
  ASSERT_TRUE(t.WaitFor([](const std::string& s) { return s.find("Cleared session context") != std::string::npos; }))
      << t.Screen();
  t.Type("Once upon a time");
  t.Key("Enter");
  ASSERT_TRUE(t.WaitFor([](const std::string& s) { return Lines(s, ">>>") >= 5; })) << t.Screen();
  // History: each turn sends the whole chat (--verbose prints the server's prompt_eval_count).
  std::vector<int> counts = PromptEvalCounts(t.Screen());
  ASSERT_EQ(counts.size(), 3u) << t.Screen();
  EXPECT_GT(counts[1], counts[0] + 5) << "the second turn carried the first exchange";
  EXPECT_EQ(counts[2], counts[0]) << "after /clear the same message costs what it did first";
  t.Type("/?");
  t.Key("Enter");
  ASSERT_TRUE(t.WaitFor([](const std::string& s) { return s.find("/bye") != std::string::npos; })) << t.Screen();

  // Ctrl-C at the prompt: a hint, not an exit.
  t.Key("C-c");
  ASSERT_TRUE(t.WaitFor([](const std::string& s) { return s.find("Use Ctrl + d or /bye to exit.") != std::string::npos; }))
      << t.Screen();
  // Ctrl-C while an answer streams (a hot, unbounded answer: until the 2048-token context is
  // full): once text streams, Ctrl-C stops it — the server cancels the generation — and the chat stays.
  Tmux hot("swarmkv-hot-" + std::to_string(getpid()));
  std::string hot_marker = dir_ + "/hot-exited";
  ASSERT_TRUE(hot.Start(HostEnv() + ShellQuote(SWARMKV_BIN) + " run tiny --temperature 2 -n 100000; echo exit=$? > " +
                        ShellQuote(hot_marker) + "; sleep 600"));
  ASSERT_TRUE(hot.WaitFor([](const std::string& s) { return Lines(s, ">>>") >= 1; })) << hot.Screen();
  hot.Type("Once upon a time");
  hot.Key("Enter");
  // Streaming: more on the screen than the typed line, no prompt back yet.
  ASSERT_TRUE(hot.WaitFor([](const std::string& s) {
    return Lines(s, ">>>") == 1 && s.find_first_not_of(" \n", s.find("Once upon a time") + 16) != std::string::npos;
  })) << "the answer never streamed (or ended at once):\n" << hot.Screen();
  hot.Key("C-c");
  ASSERT_TRUE(hot.WaitFor([](const std::string& s) { return Lines(s, ">>>") >= 2; })) << hot.Screen();
  EXPECT_FALSE(Env::Default()->Stat(hot_marker).ok()) << "Ctrl-C ended the chat:\n" << hot.Screen();
  std::ifstream log_in(dir_ + "/server.log");
  std::string log((std::istreambuf_iterator<char>(log_in)), {});
  EXPECT_NE(log.find("went away: cancelling"), std::string::npos) << "the server cancelled the generation:\n" << log;
  hot.Type("/bye");
  hot.Key("Enter");
  ASSERT_TRUE(hot.WaitFor([&](const std::string&) { return Env::Default()->Stat(hot_marker).ok(); })) << hot.Screen();
  size_t prompts = 0;
  // Still chatting.
  prompts = Lines(t.Screen(), ">>>");
  t.Type("The end");
  t.Key("Enter");
  ASSERT_TRUE(t.WaitFor([&](const std::string& s) { return Lines(s, ">>>") > prompts; })) << t.Screen();

  t.Type("/bye");
  t.Key("Enter");
  ASSERT_TRUE(t.WaitFor([&](const std::string&) { return Env::Default()->Stat(marker).ok(); })) << t.Screen();
  auto code = Env::Default()->ReadFile(marker);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, "exit=0\n");
}

}  // namespace
}  // namespace swarmkv::e2e
