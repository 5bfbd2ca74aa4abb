// End-to-end: what agents send — tools, structured output, logprobs, n, tool loops — through the
// real `swarmkv serve` and the npm clients agent frameworks use (openai with its zod helper,
// ollama, LangChain's ChatOpenAI and ChatOllama, the OpenAI Agents SDK, the Vercel AI SDK).
// tests/server/npm/agents.mjs runs each flow; these tests assert on what the clients got.
#include "base/env.h"
#include "base/testing.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "server_fixture.h"

namespace swarmkv::e2e {
namespace {

using json = nlohmann::json;

class AgentsE2ETest : public ServerE2ETest {
 protected:
  // node agents.mjs SCENARIO PORT tiny -> its JSON line.
  json Agents(const std::string& scenario) {
    auto r = RunShell("cd " + ShellQuote(SWARMKV_NPM_DIR) + " && node agents.mjs " + ShellQuote(scenario) + " " +
                      std::to_string(port()) + " tiny 2>&1");
    json j = json::parse(r.out, nullptr, false);
    if (j.is_discarded()) return {{"ok", false}, {"error", "agents.mjs printed no JSON: " + r.out}};
    return j;
  }
};

#define REQUIRE_NPM()                        \
  do {                                       \
    std::string why_ = EnsureNpmClients();   \
    if (!why_.empty()) GTEST_SKIP() << why_; \
  } while (0)

// A copy of the GGUF `in` whose tokenizer.chat_template is `tmpl` (never committed: test time only).
Status CopyWithTemplate(const std::string& in, const std::string& out, const std::string& tmpl) {
  SKV_ASSIGN_OR_RETURN(auto f, GgufFile::Open(in));
  GgufWriter w;
  for (const auto& [k, v] : f->metadata())
    if (k != "tokenizer.chat_template") w.SetValue(k, v);
  w.SetString("tokenizer.chat_template", tmpl);
  for (const auto& t : f->tensors()) SKV_RETURN_IF_ERROR(w.AddTensor(t.name, t.type_id, t.shape));
  return w.Write(out, [&](size_t i, const GgufWriterTensor&, GgufTensorSink& sink) {
    const auto& t = f->tensors()[i];
    return sink.Append(std::span<const uint8_t>(t.data, t.size_bytes));
  });
}

void ExpectWeatherArgs(const json& args) {
  ASSERT_TRUE(args.is_object()) << args.dump();
  ASSERT_TRUE(args["city"].is_string()) << args.dump();
  EXPECT_LE(args["city"].get<std::string>().size(), 12u * 4) << args.dump();
  EXPECT_TRUE(args["unit"] == "celsius" || args["unit"] == "fahrenheit") << args.dump();
}

TEST_F(AgentsE2ETest, OpenAIClientToolsStreamedToolCallsZodLogprobsAndN) {
  REQUIRE_NPM();
  // Small KV blocks: a template-less model's prompt (`{{ .Prompt }}`) is a few dozen tokens, and
  // only whole blocks are shared between the n samples.
  StartServer({"--kv-block-tokens", "4"});
  REQUIRE_ENGINE();
  json t = Agents("openai-tools");
  ASSERT_TRUE(t["ok"]) << t.dump();
  const json& r = t["result"];
  EXPECT_EQ(r["finish_reason"], "tool_calls");
  EXPECT_EQ(r["call"]["type"], "function");
  EXPECT_EQ(r["call"]["function"]["name"], "get_weather");
  EXPECT_FALSE(r["call"]["id"].get<std::string>().empty());
  ExpectWeatherArgs(r["args"]);
  // The tool result went into the next prompt.
  EXPECT_GT(r["answer_prompt_tokens"].get<int>(), r["first_prompt_tokens"].get<int>());
  // Streamed: the SDK assembled the delta.tool_calls fragments into the same call; no call text leaked.
  EXPECT_EQ(r["streamed_finish"], "tool_calls");
  EXPECT_EQ(r["streamed_call"]["function"], r["call"]["function"]) << r.dump();
  EXPECT_EQ(r["content_deltas"], "");

  json z = Agents("openai-zod");
  ASSERT_TRUE(z["ok"]) << z.dump();
  const json& p = z["result"]["parsed"];  // the SDK parsed and validated it with the zod schema
  ASSERT_TRUE(p.is_object()) << z.dump();
  EXPECT_TRUE(p["name"].is_string() && p["age"].is_number_integer() && p["pets"].is_array()) << p.dump();
  const json& lp = z["result"]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 4u) << z.dump();
  for (const auto& e : lp) {
    EXPECT_LE(e["logprob"].get<double>(), 0.0);
    ASSERT_EQ(e["top_logprobs"].size(), 3u);
    EXPECT_GE(e["top_logprobs"][0]["logprob"].get<double>(), e["logprob"].get<double>());  // greedy: the best
  }
  // n = 3: three choices; samples 2 and 3 attached the first one's prompt KV instead of computing it.
  ASSERT_EQ(z["result"]["n_choices"].size(), 3u) << z.dump();
  const json& usage = z["result"]["n_usage"];
  const int prompt = usage["prompt_tokens"];
  ASSERT_EQ(usage["swarmkv_sample_cached_tokens"].size(), 3u) << usage.dump();
  for (int i = 1; i < 3; ++i) EXPECT_GE(usage["swarmkv_sample_cached_tokens"][i].get<int>(), prompt - 4) << usage.dump();
}

TEST_F(AgentsE2ETest, OllamaClientToolsToolTurnsStreamingAndFormat) {
  REQUIRE_NPM();
  StartServer();
  REQUIRE_ENGINE();
  json o = Agents("ollama-tools");
  ASSERT_TRUE(o["ok"]) << o.dump();
  const json& r = o["result"];
  EXPECT_EQ(r["call"]["function"]["name"], "get_weather");
  ExpectWeatherArgs(r["call"]["function"]["arguments"]);  // an object, as Ollama sends it
  EXPECT_EQ(r["answer"]["role"], "assistant");
  ASSERT_EQ(r["streamed_calls"].size(), 1u) << r.dump();
  EXPECT_EQ(r["streamed_calls"][0], r["call"]);
  EXPECT_TRUE(r["formatted"]["title"].is_string() && r["formatted"]["done"].is_boolean()) << r.dump();
  EXPECT_EQ(r["json"].get<std::string>().substr(0, 1), "{");
}

TEST_F(AgentsE2ETest, LangChainToolLoopsOverOpenAIAndOllama) {
  REQUIRE_NPM();
  StartServer();
  REQUIRE_ENGINE();
  for (const char* scenario : {"langchain-openai", "langchain-ollama"}) {
    json l = Agents(scenario);
    ASSERT_TRUE(l["ok"]) << scenario << ": " << l.dump();
    const json& r = l["result"];
    ASSERT_EQ(r["tool_calls"].size(), 1u) << r.dump();
    EXPECT_EQ(r["tool_calls"][0]["name"], "get_weather");
    ASSERT_EQ(r["executed"].size(), 1u) << r.dump();  // the local function ran with the call's arguments
    EXPECT_EQ(r["executed"][0], r["tool_calls"][0]["args"]);
    ExpectWeatherArgs(r["executed"][0]);
    EXPECT_TRUE(r["final"].is_string()) << r.dump();  // the model answered after the tool result
  }
}

TEST_F(AgentsE2ETest, OpenAIAgentsSdkHandoffThenTool) {
  REQUIRE_NPM();
  StartServer();
  REQUIRE_ENGINE();
  json a = Agents("openai-agents");
  ASSERT_TRUE(a["ok"]) << a.dump();
  const json& r = a["result"];
  EXPECT_EQ(r["last_agent"], "Weather agent");
  ASSERT_EQ(r["executed"].size(), 1u) << r.dump();
  ExpectWeatherArgs(r["executed"][0]);
  const json& items = r["items"];
  ASSERT_GE(items.size(), 4u) << r.dump();
  EXPECT_EQ(items[0], "handoff_call_item");
  EXPECT_EQ(items[1], "handoff_output_item");
  EXPECT_EQ(items[2], "tool_call_item");
  EXPECT_EQ(items[3], "tool_call_output_item");
}

TEST_F(AgentsE2ETest, VercelAiSdkGenerateObjectWithZod) {
  REQUIRE_NPM();
  StartServer();
  REQUIRE_ENGINE();
  json g = Agents("ai-generate-object");
  ASSERT_TRUE(g["ok"]) << g.dump();
  const json& obj = g["result"]["object"];  // validated by the SDK against the zod schema
  ASSERT_TRUE(obj["recipe"].is_object()) << g.dump();
  EXPECT_TRUE(obj["recipe"]["name"].is_string());
  EXPECT_GE(obj["recipe"]["steps"].size(), 1u);
  EXPECT_LE(obj["recipe"]["steps"].size(), 2u);
}

// The model's own Jinja template renders the tools, the tool-call turn (arguments as an object,
// through the template's tojson) and the tool result: a tiny model carrying Qwen2.5's real template.
TEST_F(AgentsE2ETest, ToolsThroughTheModelsOwnQwenTemplate) {
  const std::string tmpl_path = testing::SharedPath("chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja");
  if (tmpl_path.empty()) GTEST_SKIP() << "../shared/chat-templates is absent";
  auto read = Env::Default()->ReadFile(tmpl_path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  const std::string tmpl = *read;
  const std::string qwen = dir_ + "/tiny-qwen-template.gguf";
  Status st = CopyWithTemplate(model_path_, qwen, tmpl);
  ASSERT_TRUE(st.ok()) << st.ToString();
  StartServer({"--model", "qwen=" + qwen});
  REQUIRE_ENGINE();
  const std::string tools = R"([{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
      "properties":{"city":{"type":"string","maxLength":12},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},
      "required":["city","unit"]}}}])";
  auto [s0, plain] = Curl("POST", "/v1/chat/completions",
                          R"({"model":"qwen","max_tokens":1,"messages":[{"role":"user","content":"Weather in Paris?"}]})");
  ASSERT_EQ(s0, 200) << plain;
  auto [s1, first] = Curl("POST", "/v1/chat/completions",
                          R"({"model":"qwen","max_tokens":120,"temperature":0,"tool_choice":"required","tools":)" + tools +
                              R"(,"messages":[{"role":"user","content":"Weather in Paris?"}]})");
  ASSERT_EQ(s1, 200) << first;
  json f = json::parse(first);
  ASSERT_EQ(f["choices"][0]["finish_reason"], "tool_calls") << first;
  const json call = f["choices"][0]["message"]["tool_calls"][0];
  ExpectWeatherArgs(json::parse(call["function"]["arguments"].get<std::string>()));
  // The template's tools block ("# Tools ... <tools>...</tools>") made the prompt longer.
  EXPECT_GT(f["usage"]["prompt_tokens"].get<int>(), json::parse(plain)["usage"]["prompt_tokens"].get<int>() + 40);
  const std::string result = "It is sunny and 21 degrees in Paris.";
  json follow = {{"model", "qwen"}, {"max_tokens", 4}, {"tools", json::parse(tools)},
                 {"messages", json::array({{{"role", "user"}, {"content", "Weather in Paris?"}},
                                           {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}},
                                           {{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", result}}})}};
  auto [s2, second] = Curl("POST", "/v1/chat/completions", follow.dump());
  ASSERT_EQ(s2, 200) << second;
  // The call turn and the <tool_response> turn were rendered into the prompt.
  EXPECT_GT(json::parse(second)["usage"]["prompt_tokens"].get<int>(),
            f["usage"]["prompt_tokens"].get<int>() + static_cast<int>(result.size() / 4));
}

TEST_F(AgentsE2ETest, LogprobsOnEveryRouteStreamedAndNot) {
  StartServer();
  REQUIRE_ENGINE();
  // OpenAI completions: the legacy shape, one entry per generated token.
  auto [s1, comp] = Curl("POST", "/v1/completions", R"({"model":"tiny","prompt":"Once","max_tokens":5,"temperature":0,"logprobs":2})");
  ASSERT_EQ(s1, 200) << comp;
  json c = json::parse(comp);
  const json& lp = c["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), c["usage"]["completion_tokens"].get<size_t>()) << comp;
  ASSERT_EQ(lp["top_logprobs"].size(), lp["tokens"].size());
  std::string joined;
  for (const auto& t : lp["tokens"]) joined += t.get<std::string>();
  EXPECT_EQ(joined, c["choices"][0]["text"]) << comp;  // the tokens spell the text
  for (const auto& alt : lp["top_logprobs"]) EXPECT_LE(alt.size(), 2u);
  // Ollama generate: logprobs on the final object.
  auto [s2, gen] = Curl("POST", "/api/generate",
                        R"({"model":"tiny","prompt":"Once","stream":false,"logprobs":true,"top_logprobs":1,"options":{"num_predict":4,"temperature":0}})");
  ASSERT_EQ(s2, 200) << gen;
  json g = json::parse(gen);
  ASSERT_EQ(g["logprobs"].size(), g["eval_count"].get<size_t>()) << gen;
  EXPECT_EQ(g["logprobs"][0]["top_logprobs"].size(), 1u);
  // OpenAI chat streamed: each chunk carries its tokens' logprobs; together one per token.
  auto [s3, sse] = Curl("POST", "/v1/chat/completions",
                        R"({"model":"tiny","stream":true,"max_tokens":6,"temperature":0,"logprobs":true,"top_logprobs":0,
                            "stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(s3, 200) << sse;
  size_t entries = 0, completion = 0;
  for (size_t at = sse.find("data: {"); at != std::string::npos; at = sse.find("data: {", at + 1)) {
    json chunk = json::parse(sse.substr(at + 6, sse.find("\n", at) - at - 6));
    if (chunk.contains("usage") && chunk["usage"].is_object()) completion = chunk["usage"]["completion_tokens"];
    if (!chunk["choices"].empty() && chunk["choices"][0]["logprobs"].is_object())
      entries += chunk["choices"][0]["logprobs"]["content"].size();
  }
  EXPECT_EQ(entries, completion) << sse;
  EXPECT_GT(completion, 0u);
}

TEST_F(AgentsE2ETest, UnsupportedAgentFieldsAreClearErrors) {
  StartServer();
  struct Case { std::string path, body; const char* needle; };
  const std::string m = R"("model":"tiny","messages":[{"role":"user","content":"x"}])";
  const std::vector<Case> cases = {
      {"/v1/chat/completions", "{" + m + R"(,"logit_bias":{"1":5}})", "logit_bias"},
      {"/v1/chat/completions", "{" + m + R"(,"n":2,"stream":true})", "'n'"},
      {"/v1/chat/completions", "{" + m + R"(,"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"string","pattern":"x"}}}})", "pattern"},
      {"/api/chat", "{" + m + R"(,"format":{"type":"number","maximum":3}})", "maximum"},
      {"/api/generate", R"({"model":"tiny","prompt":"x","tools":[]})", "tools"},
      {"/v1/completions", R"({"model":"tiny","prompt":"x","tools":[]})", "tools"},
  };
  for (const auto& c : cases) {
    auto [status, body] = Curl("POST", c.path, c.body);
    EXPECT_EQ(status, 400) << c.path << " " << c.body << ": " << body;
    EXPECT_NE(body.find(c.needle), std::string::npos) << body;
  }
}

}  // namespace
}  // namespace swarmkv::e2e
