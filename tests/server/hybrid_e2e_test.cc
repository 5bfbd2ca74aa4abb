// Issue 19 through the real server: a hybrid model (tiny-lfm2 from `swarmkv make-model`: gated
// short-conv layers + attention) is served next to the test model. It answers /api/chat, and a
// second conversation with the same long prefix attaches the first one's blocks with their
// recurrent checkpoints (cached_tokens > 0, whole blocks) and gets the reply a cold server gives.
// A pure Mamba-2 model (tiny-mamba2: no attention layer, its blocks hold only checkpoints) is
// served the same way through the Ollama /api/chat, and /api/kv reports its blocks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server_fixture.h"

namespace swarmkv::e2e {
namespace {

using json = nlohmann::json;

json Chat(const std::string& system, const std::string& user) {
  return json{{"model", "lfm2"},
              {"messages", json::array({{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", user}}})},
              {"max_tokens", 8},
              {"temperature", 0}};
}

TEST_F(ServerE2ETest, HybridModelChatsAndReusesAPrefixWithItsRecurrentCheckpoints) {
  const std::string path = dir_ + "/tiny-lfm2.gguf";
  CmdResult r = RunShell(ShellQuote(SWARMKV_BIN) + " make-model --shape tiny-lfm2 --type q8_0 -o " + ShellQuote(path));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  StartServer({"--model", "lfm2=" + path});
  REQUIRE_ENGINE();

  auto [ss, show] = Curl("POST", "/api/show", json{{"model", "lfm2"}}.dump());
  ASSERT_EQ(ss, 200) << show;
  EXPECT_EQ(json::parse(show)["model_info"]["general.architecture"], "lfm2");

  auto [sc, chat] = Curl("POST", "/api/chat",
                         json{{"model", "lfm2"},
                              {"messages", json::array({{{"role", "user"}, {"content", "Hello there"}}})},
                              {"stream", false},
                              {"options", {{"num_predict", 6}, {"temperature", 0}}}}
                             .dump());
  ASSERT_EQ(sc, 200) << chat;
  json c = json::parse(chat);
  EXPECT_TRUE(c["done"].get<bool>());
  EXPECT_EQ(c["eval_count"], 6);

  // Two conversations over one long system prompt: the second reuses the first's whole blocks.
  std::string system = "You are a careful reviewer of a large codebase.";
  while (system.size() < 900) system += " Read every file, note every function, and keep the summary short.";
  auto [s1, a1] = Curl("POST", "/v1/chat/completions", Chat(system, "What does main do?").dump());
  ASSERT_EQ(s1, 200) << a1;
  auto [s2, a2] = Curl("POST", "/v1/chat/completions", Chat(system, "List the tests.").dump());
  ASSERT_EQ(s2, 200) << a2;
  const json u2 = json::parse(a2)["usage"];
  const int cached = u2["prompt_tokens_details"]["cached_tokens"].get<int>();
  EXPECT_GE(cached, 64) << a2;
  EXPECT_EQ(cached % 32, 0) << "a hybrid prefix is reused in whole blocks (checkpoints sit at block ends): " << a2;
  EXPECT_LT(cached, u2["prompt_tokens"].get<int>());

  // The first conversation was computed with nothing cached; asked again, it attaches its whole
  // prefix from the cache (checkpoints included) and must give the same text.
  auto [s3, a3] = Curl("POST", "/v1/chat/completions", Chat(system, "What does main do?").dump());
  ASSERT_EQ(s3, 200) << a3;
  EXPECT_EQ(json::parse(a3)["choices"][0]["message"]["content"], json::parse(a1)["choices"][0]["message"]["content"]);
  EXPECT_GT(json::parse(a3)["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), cached - 1);
}

json OllamaChat(const std::string& model, const std::string& system, const std::string& user) {
  return json{{"model", model},
              {"messages", json::array({{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", user}}})},
              {"stream", false},
              {"options", {{"num_predict", 8}, {"temperature", 0}}}};
}

TEST_F(ServerE2ETest, PureMamba2ModelChatsAndReusesAPrefixFromItsCheckpoints) {
  const std::string path = dir_ + "/tiny-mamba2.gguf";
  CmdResult r = RunShell(ShellQuote(SWARMKV_BIN) + " make-model --shape tiny-mamba2 --type q8_0 -o " + ShellQuote(path));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  StartServer({"--model", "mamba2=" + path});
  REQUIRE_ENGINE();

  auto [ss, show] = Curl("POST", "/api/show", json{{"model", "mamba2"}}.dump());
  ASSERT_EQ(ss, 200) << show;
  EXPECT_EQ(json::parse(show)["model_info"]["general.architecture"], "mamba2");

  // Two conversations over one long system prompt: the second attaches the first's whole blocks
  // (their checkpoints are the whole state of the model) instead of computing them.
  std::string system = "You are a careful reviewer of a large codebase.";
  while (system.size() < 900) system += " Read every file, note every function, and keep the summary short.";
  auto [s1, a1] = Curl("POST", "/api/chat", OllamaChat("mamba2", system, "What does main do?").dump());
  ASSERT_EQ(s1, 200) << a1;
  const json c1 = json::parse(a1);
  EXPECT_TRUE(c1["done"].get<bool>());
  EXPECT_EQ(c1["eval_count"], 8);
  const double reused_before = Metric("swarmkv_prompt_tokens_reused_total");
  auto [s2, a2] = Curl("POST", "/api/chat", OllamaChat("mamba2", system, "List the tests.").dump());
  ASSERT_EQ(s2, 200) << a2;
  const auto reused = static_cast<int64_t>(Metric("swarmkv_prompt_tokens_reused_total") - reused_before);
  EXPECT_GE(reused, 64) << a2;
  EXPECT_EQ(reused % 32, 0) << "a recurrent prefix is reused in whole blocks (checkpoints sit at block ends)";
  EXPECT_LT(reused, json::parse(a2)["prompt_eval_count"].get<int64_t>());

  // The first conversation was computed with nothing cached; asked again it comes from the cache
  // (cached_tokens through the OpenAI API) and must give the same text.
  auto [s3, a3] = Curl("POST", "/api/chat", OllamaChat("mamba2", system, "What does main do?").dump());
  ASSERT_EQ(s3, 200) << a3;
  EXPECT_EQ(json::parse(a3)["message"]["content"], c1["message"]["content"]);
  json openai = Chat(system, "What does main do?");
  openai["model"] = "mamba2";
  auto [s4, a4] = Curl("POST", "/v1/chat/completions", openai.dump());
  ASSERT_EQ(s4, 200) << a4;
  EXPECT_GE(json::parse(a4)["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), reused) << a4;

  // /api/kv reports the model's blocks (checkpoint bytes only, no KV) without dividing by zero.
  auto [sk, kv] = Curl("GET", "/api/kv");
  ASSERT_EQ(sk, 200) << kv;
  const json k = json::parse(kv);
  EXPECT_GT(k["tiers"]["ram"]["blocks"].get<int64_t>(), 0) << kv;
  EXPECT_GT(k["tiers"]["ram"]["bytes"].get<int64_t>(), 0) << kv;
}

}  // namespace
}  // namespace swarmkv::e2e
