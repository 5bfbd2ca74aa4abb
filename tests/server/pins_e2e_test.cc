// End-to-end: KV pins through the real `swarmkv serve` over loopback HTTP — a pin preloads its
// prefix (computed once, by the pin), a later request reuses it and answers exactly as an
// unpinned run; pins survive a restart and come back from the disk tier; a pin too big for the
// budget or on an unknown model is a clear error; agents arriving while a pin computes wait for
// it; Ollama's num_predict 0 warms a prompt up without generating.
#include <chrono>
#include <thread>

#include <httplib.h>

#include "base/env.h"
#include "server_fixture.h"

namespace swarmkv::e2e {
namespace {

using json = nlohmann::json;

// A prompt of a few hundred tokens for the tiny models (context 512 or more), ending a sentence
// so that a continuation tokenizes the prefix the same way.
std::string Context(int words = 150) {
  const char* w[] = {"Once", "upon", "a", "time", "there", "was", "a", "little", "cat", "named", "Tom.",
                     "She", "liked", "to", "run", "in", "the", "garden", "with", "her", "blue", "kite."};
  std::string p;
  for (int i = 0; i < words; ++i) p += std::string(i ? " " : "") + w[i % 22];
  return p;
}
const char* kTask = " One day Tom found a box.";

class PinsE2ETest : public ServerE2ETest {
 protected:
  struct Reply {
    std::string text;
    int64_t prompt_tokens = 0, cached_tokens = 0;
  };
  // Greedy completion of `prompt` (raw text) through the OpenAI route, which reports cached_tokens.
  Reply Complete(const std::string& prompt) {
    json body = {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}, {"seed", 7}};
    auto [status, out] = Curl("POST", "/v1/completions", body.dump());
    EXPECT_EQ(status, 200) << out;
    Reply r;
    json j = json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.contains("choices")) return r;
    r.text = j["choices"][0]["text"];
    r.prompt_tokens = j["usage"]["prompt_tokens"];
    r.cached_tokens = j["usage"]["prompt_tokens_details"]["cached_tokens"];
    return r;
  }

  json Pin(const std::string& prompt, const std::string& name = "ctx", int* status_out = nullptr) {
    json body = {{"model", "tiny"}, {"name", name}, {"prompt", prompt}, {"ttl", "1h"}};
    auto [status, out] = Curl("POST", "/api/kv/pin", body.dump());
    if (status_out != nullptr) *status_out = status;
    else EXPECT_EQ(status, 200) << out;
    json j = json::parse(out, nullptr, false);
    return j.is_discarded() ? json::object() : j;
  }

  json Pins() {
    auto [status, out] = Curl("GET", "/api/kv/pins");
    EXPECT_EQ(status, 200) << out;
    return json::parse(out, nullptr, false);
  }

  // Waits (bounded) until `pred` holds for the pins listing.
  bool AwaitPins(const std::function<bool(const json&)>& pred, int timeout_ms = 60000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      json p = Pins();
      if (!p.is_discarded() && pred(p)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string ServerLog() {
    auto text = Env::Default()->ReadFile(dir_ + "/server.log");
    return text.ok() ? *text : std::string();
  }

  // The greedy reply to Context()+kTask from a server that never saw a pin (its own disk tier).
  Reply Unpinned() {
    StartServer({"--kv-disk", dir_ + "/kv-ref"});
    Reply r = Complete(Context() + kTask);
    EXPECT_FALSE(r.text.empty());
    Status s = server_->Stop(20000);
    EXPECT_TRUE(s.ok()) << s.ToString();
    server_.reset();
    return r;
  }

  // Fails unless the server generates; sets `*ref` to Unpinned() and starts a fresh server.
  void StartAfterUnpinnedReference(Reply* ref) {
    StartServer({"--kv-disk", dir_ + "/kv-probe"});
    REQUIRE_ENGINE();
    ASSERT_TRUE(server_->Stop(20000).ok());
    server_.reset();
    *ref = Unpinned();
    StartServer();
  }
};

TEST_F(PinsE2ETest, PinPreloadsAndARequestReusesItWithTheUnpinnedReply) {
  Reply ref;
  ASSERT_NO_FATAL_FAILURE(StartAfterUnpinnedReference(&ref));
  const double computed0 = Metric("swarmkv_prompt_tokens_computed_total");
  const double reused0 = Metric("swarmkv_prompt_tokens_reused_total");
  json pin = Pin(Context());
  const int64_t n = pin.value("tokens", 0);
  ASSERT_GT(n, 128) << pin.dump();
  // The pin computed its prefix itself, before any request asked for it.
  EXPECT_EQ(pin["reused"].get<int64_t>() + pin["restored"].get<int64_t>() + pin["computed"].get<int64_t>(), n) << pin.dump();
  EXPECT_GE(pin["computed"].get<int64_t>(), n - 32) << pin.dump();
  EXPECT_GT(pin["bytes"].get<int64_t>(), 0);
  EXPECT_NE(pin["expires_at"].get<std::string>(), "never");
  EXPECT_EQ(Metric("swarmkv_prompt_tokens_computed_total") - computed0, pin["computed"].get<double>());
  EXPECT_EQ(Metric("swarmkv_kv_pin_preloads_total", "result=\"done\""), 1);

  json listed = Pins();
  ASSERT_EQ(listed["pins"].size(), 1u) << listed.dump();
  const json& p = listed["pins"][0];
  EXPECT_EQ(p["name"], "ctx");
  EXPECT_EQ(p["model"], "tiny:latest");
  EXPECT_EQ(p["tokens"], n);
  EXPECT_EQ(p["resident_tokens"], n / 32 * 32) << listed.dump();
  EXPECT_EQ(p["state"], "resident");
  EXPECT_EQ(p["hits"], 0);

  const Reply r = Complete(Context() + kTask);
  EXPECT_EQ(r.text, ref.text);
  EXPECT_GE(r.cached_tokens, n - 32) << "prompt " << r.prompt_tokens;
  EXPECT_GE(Metric("swarmkv_prompt_tokens_reused_total") - reused0, n - 32);
  EXPECT_EQ(Pins()["pins"][0]["hits"], 1);

  // Unpin: gone from the listing; a second unpin is a 404.
  EXPECT_EQ(Curl("POST", "/api/kv/unpin", R"({"name":"ctx"})").first, 200);
  EXPECT_EQ(Curl("POST", "/api/kv/unpin", R"({"name":"ctx"})").first, 404);
  EXPECT_TRUE(Pins()["pins"].empty());
}

TEST_F(PinsE2ETest, PinSurvivesARestartAndIsServedFromTheDiskTier) {
  Reply ref;
  ASSERT_NO_FATAL_FAILURE(StartAfterUnpinnedReference(&ref));
  json pin = Pin(Context());
  const int64_t n = pin.value("tokens", 0);
  ASSERT_GT(n, 128) << pin.dump();
  ASSERT_TRUE(server_->Stop(20000).ok());
  server_.reset();
  ASSERT_TRUE(Env::Default()->FileExists(dir_ + "/kv/pins.json")) << "the pin registry is kept beside the disk tier";

  StartServer();
  // The pin comes back by itself, from the disk tier, before any request asks for it.
  ASSERT_TRUE(AwaitPins([&](const json& p) {
    return p["pins"].size() == 1 && p["pins"][0]["state"] == "resident" && p["pins"][0]["resident_tokens"] == n / 32 * 32;
  })) << Pins().dump() << "\n" << ServerLog();
  EXPECT_NE(ServerLog().find("restoring 1 pin(s)"), std::string::npos) << ServerLog();
  EXPECT_GE(Metric("swarmkv_kv_restored_tokens_total", "tier=\"disk\""), n / 32 * 32 - 32);
  const double computed0 = Metric("swarmkv_prompt_tokens_computed_total");
  const Reply r = Complete(Context() + kTask);
  EXPECT_EQ(r.text, ref.text);
  EXPECT_GE(r.cached_tokens, n - 32);
  EXPECT_LE(Metric("swarmkv_prompt_tokens_computed_total") - computed0, r.prompt_tokens - (n - 32));
}

TEST_F(PinsE2ETest, PinErrorsNameWhatIsWrong) {
  // A budget of 128 KiB holds a few blocks of the tiny model, not a few hundred tokens.
  StartServer({"--kv-memory", "128KiB"});
  REQUIRE_ENGINE();
  int status = 0;
  json err = Pin(Context(), "big", &status);
  EXPECT_EQ(status, 400) << err.dump();
  const std::string msg = err.value("error", "");
  EXPECT_NE(msg.find("needs "), std::string::npos) << msg;
  EXPECT_NE(msg.find("KV budget (--kv-memory) is 128.00 KiB"), std::string::npos) << msg;
  EXPECT_TRUE(Pins()["pins"].empty());

  auto [s404, body404] = Curl("POST", "/api/kv/pin", R"({"model":"nope","name":"x","prompt":"hello"})");
  EXPECT_EQ(s404, 404) << body404;
  EXPECT_NE(body404.find("model 'nope' not found"), std::string::npos) << body404;
  EXPECT_EQ(Curl("POST", "/api/kv/pin", R"({"model":"tiny","name":"x"})").first, 400);
  EXPECT_EQ(Curl("POST", "/api/kv/pin", R"({"model":"tiny","name":"x","prompt":"hi","ttl":0})").first, 400);
  EXPECT_EQ(Curl("POST", "/api/kv/pin", R"({"model":"tiny","name":"x","prompt":"hi"})").first, 400)
      << "shorter than one block";
  EXPECT_EQ(Curl("POST", "/api/kv/pin", "{\"model\":\"tiny\",\"name\":\"a\\nb\",\"prompt\":\"hi\"}").first, 400);

  // Without the prefix cache nothing would ever reuse a pin: refused, saying why.
  ASSERT_TRUE(server_->Stop(20000).ok());
  StartServer({"--no-prefix-cache"});
  json off = Pin(Context(), "off", &status);
  EXPECT_EQ(status, 409) << off.dump();
  EXPECT_NE(off.value("error", "").find("--no-prefix-cache"), std::string::npos) << off.dump();
}

// Ten agents sent while the pin's preload is half done (its streamed progress says so): they wait
// for its blocks, so the context is computed once — by the pin — and each agent computes only its
// own task. The built-in demo-shaped model (6 layers of SmolLM2-135M) on one thread makes a
// 1,500-token preload (three engine steps) last long enough to be caught half done.
TEST_F(PinsE2ETest, AgentsArrivingWhileAPinComputesComputeThePrefixOnce) {
  const std::string demo = dir_ + "/demo.gguf";
  auto made = RunShell(ShellQuote(SWARMKV_BIN) + " make-model --shape smollm2-demo --type q8_0 --seed 1 -o " +
                       ShellQuote(demo) + " 2>&1");
  ASSERT_EQ(made.exit_code, 0) << made.out;
  StartServer({"--threads", "1", "--model", "demo=" + demo});
  REQUIRE_ENGINE();
  const std::string ctx = Context(900);
  const double computed0 = Metric("swarmkv_prompt_tokens_computed_total");
  const double reused0 = Metric("swarmkv_prompt_tokens_reused_total");

  std::vector<std::thread> agents;
  std::vector<Reply> replies(10);
  auto fire_agents = [&] {
    for (int a = 0; a < 10; ++a)
      agents.emplace_back([&, a] {
        json body = {{"model", "demo"}, {"prompt", ctx + " Task " + std::to_string(a) + "."}, {"max_tokens", 4},
                     {"temperature", 0}};
        auto [status, out] = Curl("POST", "/v1/completions", body.dump());
        EXPECT_EQ(status, 200) << out;
        json j = json::parse(out, nullptr, false);
        if (j.is_discarded() || !j.contains("usage")) return;
        replies[a].prompt_tokens = j["usage"]["prompt_tokens"];
        replies[a].cached_tokens = j["usage"]["prompt_tokens_details"]["cached_tokens"];
      });
  };
  httplib::Client client("127.0.0.1", port());
  client.set_read_timeout(600, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = "/api/kv/pin";
  req.body = json{{"model", "demo"}, {"name", "ctx"}, {"prompt", ctx}, {"stream", true}}.dump();
  req.set_header("Content-Type", "application/json");
  std::string pending;
  json outcome;
  int64_t fired_at = -1, total = 0;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    pending.append(data, n);
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      json line = json::parse(pending.substr(0, nl), nullptr, false);
      pending.erase(0, nl + 1);
      if (line.is_discarded()) continue;
      if (line["status"] == "computing" && fired_at < 0 && line["completed"].get<int64_t>() > 0 &&
          line["completed"] < line["total"]) {
        fired_at = line["completed"];
        total = line["total"];
        fire_agents();
      }
      if (line["status"] == "success" || line["status"] == "error") outcome = line;
    }
    return true;
  };
  auto res = client.send(req);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  for (auto& t : agents) t.join();
  ASSERT_EQ(outcome.value("status", ""), "success") << outcome.dump();
  ASSERT_GT(fired_at, 0) << "the preload was never seen half done; the agents were not sent";
  std::cerr << "agents sent with " << fired_at << " of " << total << " pinned tokens resident\n";
  const int64_t n = outcome["tokens"];
  EXPECT_EQ(outcome["computed"].get<int64_t>() + outcome["reused"].get<int64_t>(), n) << outcome.dump();
  for (const Reply& r : replies) EXPECT_GE(r.cached_tokens, n - 32) << "an agent recomputed the pinned context";
  // The context once, by the pin; each agent only its task and the context's last partial block.
  const double computed = Metric("swarmkv_prompt_tokens_computed_total") - computed0;
  const double reused = Metric("swarmkv_prompt_tokens_reused_total") - reused0;
  EXPECT_LE(computed, n + 10 * (32 + 8)) << "reused " << reused;
  EXPECT_GE(reused, 10 * (n - 32));
}

// The pin keeps the KV, not the weights: with keep_alive 0 the model unloads once the preload is
// done, the pinned blocks stay resident, and the next request (loading the model again) reuses them.
TEST_F(PinsE2ETest, PinKeepsTheKvNotTheWeights) {
  StartServer({"--keep-alive", "0"});
  REQUIRE_ENGINE();
  json pin = Pin(Context());
  const int64_t n = pin.value("tokens", 0);
  ASSERT_GT(n, 128) << pin.dump();
  auto [ps_status, ps] = Curl("GET", "/api/ps");
  EXPECT_EQ(json::parse(ps)["models"].size(), 0u) << ps;
  json listed = Pins();
  ASSERT_EQ(listed["pins"].size(), 1u);
  EXPECT_EQ(listed["pins"][0]["resident_tokens"], n / 32 * 32) << listed.dump();
  const Reply r = Complete(Context() + kTask);
  EXPECT_GE(r.cached_tokens, n - 32);
}

// A pin registry someone else wrote badly: the server says so, moves it aside and serves.
TEST_F(PinsE2ETest, ATamperedPinRegistryIsMovedAsideAndTheServerServes) {
  ASSERT_TRUE(Env::Default()->CreateDirs(dir_ + "/kv").ok());
  const std::string bad = R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"tiny","name":"x","tokens":[1,-7]}]})";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(dir_ + "/kv/pins.json", bad, false).ok());
  StartServer();
  REQUIRE_ENGINE();
  EXPECT_TRUE(Pins()["pins"].empty());
  EXPECT_NE(ServerLog().find("token 1 is not a token id"), std::string::npos) << ServerLog();
  EXPECT_TRUE(Env::Default()->FileExists(dir_ + "/kv/pins.json.bad"));
  json pin = Pin(Context());
  EXPECT_GT(pin.value("tokens", 0), 128) << pin.dump();
}

// Ollama's warm-up: num_predict 0 computes the prompt's KV and answers with the counts, no text.
TEST_F(PinsE2ETest, NumPredictZeroWarmsThePromptUp) {
  StartServer();
  REQUIRE_ENGINE();
  json body = {{"model", "tiny"}, {"prompt", Context()}, {"raw", true}, {"stream", false}, {"options", {{"num_predict", 0}}}};
  auto [status, out] = Curl("POST", "/api/generate", body.dump());
  ASSERT_EQ(status, 200) << out;
  json j = json::parse(out);
  EXPECT_EQ(j["response"], "");
  EXPECT_EQ(j["eval_count"], 0);
  EXPECT_EQ(j["done"], true);
  const int64_t n = j["prompt_eval_count"];
  EXPECT_GT(n, 128);
  const Reply r = Complete(Context() + kTask);
  EXPECT_GE(r.cached_tokens, n - 32);
}

// A pin given as `messages` renders through the chat routes' own prompt path: on a GGUF without a
// chat template (`{{ .Prompt }}`: the user messages as sent) the pin is exactly the prefix of a
// later chat that continues those messages, so the chat reuses it.
TEST_F(PinsE2ETest, MessagesPinIsThePrefixOfTheChatThatContinuesIt) {
  StartServer();
  REQUIRE_ENGINE();
  auto [show_status, show] = Curl("POST", "/api/show", R"({"model":"tiny"})");
  ASSERT_EQ(show_status, 200) << show;
  const json info = json::parse(show, nullptr, false);
  const bool template_less = info.value("template", "") == "{{ .Prompt }}";
  json body = {{"model", "tiny"}, {"name", "chat"}, {"ttl", "1h"},
               {"messages", json::array({{{"role", "user"}, {"content", Context()}}})}};
  auto [status, out] = Curl("POST", "/api/kv/pin", body.dump());
  ASSERT_EQ(status, 200) << out;
  const int64_t n = json::parse(out).value("tokens", 0);
  ASSERT_GT(n, 128) << out;

  json chat = {{"model", "tiny"}, {"max_tokens", 8}, {"temperature", 0},
               {"messages", json::array({{{"role", "user"}, {"content", Context()}},
                                         {{"role", "assistant"}, {"content", "Yes."}},
                                         {{"role", "user"}, {"content", kTask}}})}};
  auto [chat_status, chat_out] = Curl("POST", "/v1/chat/completions", chat.dump());
  ASSERT_EQ(chat_status, 200) << chat_out;
  const json j = json::parse(chat_out);
  const int64_t cached = j["usage"]["prompt_tokens_details"]["cached_tokens"];
  if (template_less) {
    // The pin's tokens are the chat's first n tokens: every sealed block of them is reused.
    EXPECT_GE(cached, n / 32 * 32) << "pin " << n << " tokens; chat " << chat_out;
  } else {
    // Through a template the pin ends with the generation prompt where the chat has the next turn.
    EXPECT_GE(cached, (n - 32) / 32 * 32) << "pin " << n << " tokens; chat " << chat_out;
  }
}

}  // namespace
}  // namespace swarmkv::e2e
