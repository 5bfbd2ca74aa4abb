// Issue 18 through the real server: a tiny synthetic model of each family beyond llama/qwen
// (granite, olmo2, phi3, gemma2, gemma3, and the mixture-of-experts qwen3moe; `swarmkv
// make-model`, Q8_0) is served next to the test
// model; each one chats through its own chat template (the one make-model writes, with the
// family's special tokens) and /api/show reports its architecture, context and quantization as
// Ollama does.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server_fixture.h"

namespace swarmkv::e2e {
namespace {

using json = nlohmann::json;

struct Family {
  const char* arch;
  const char* shape;
  const char* template_marker;  // a special token only the family's template emits
};

constexpr Family kFamilies[] = {{"granite", "tiny-granite", "<|start_of_role|>"},
                                {"olmo2", "tiny-olmo2", "<|assistant|>"},
                                {"phi3", "tiny-phi3", "<|end|>"},
                                {"gemma2", "tiny-gemma2", "<start_of_turn>"},
                                {"gemma3", "tiny-gemma3", "<start_of_turn>"},
                                {"qwen3moe", "tiny-qwen3moe", "<|im_start|>"}};

TEST_F(ServerE2ETest, EveryDenseFamilyChatsWithItsTemplateAndShowsItsArchitecture) {
  std::vector<std::string> args;
  for (const Family& f : kFamilies) {
    const std::string path = dir_ + "/" + f.shape + ".gguf";
    CmdResult r = RunShell(ShellQuote(SWARMKV_BIN) + " make-model --shape " + f.shape + " --type q8_0 -o " +
                           ShellQuote(path));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    args.insert(args.end(), {"--model", std::string(f.arch) + "=" + path});
  }
  StartServer(args);
  REQUIRE_ENGINE();
  for (const Family& f : kFamilies) {
    SCOPED_TRACE(f.arch);
    auto [ss, show] = Curl("POST", "/api/show", json{{"model", f.arch}}.dump());
    ASSERT_EQ(ss, 200) << show;
    json s = json::parse(show);
    EXPECT_EQ(s["details"]["family"], f.arch);
    EXPECT_EQ(s["details"]["quantization_level"], "Q8_0");
    EXPECT_EQ(s["model_info"]["general.architecture"], f.arch);
    EXPECT_EQ(s["model_info"][std::string(f.arch) + ".context_length"], 4096);
    EXPECT_NE(s["template"].get<std::string>().find(f.template_marker), std::string::npos) << s["template"];

    // The chat prompt is rendered by the family's template: its special tokens are single
    // tokens, so the chat prompt is longer than the bare message by the template's framing.
    const std::string msg = "Hello there";
    auto [sc, chat] = Curl("POST", "/api/chat",
                           json{{"model", f.arch},
                                {"messages", json::array({{{"role", "user"}, {"content", msg}}})},
                                {"stream", false},
                                {"options", {{"num_predict", 6}, {"temperature", 0}}}}
                               .dump());
    ASSERT_EQ(sc, 200) << chat;
    json c = json::parse(chat);
    EXPECT_TRUE(c["done"].get<bool>());
    EXPECT_EQ(c["eval_count"], 6);
    auto [sg, gen] = Curl("POST", "/api/generate",
                          json{{"model", f.arch}, {"prompt", msg}, {"raw", true}, {"stream", false},
                               {"options", {{"num_predict", 1}}}}
                              .dump());
    ASSERT_EQ(sg, 200) << gen;
    EXPECT_GT(c["prompt_eval_count"].get<int>(), json::parse(gen)["prompt_eval_count"].get<int>() + 2) << chat;
  }
}

}  // namespace
}  // namespace swarmkv::e2e
