// The agent fields of the request bodies (tools, formats, logprobs, n, think) and the grammar
// they ask for.
#include "server/structured_request.h"

#include <gtest/gtest.h>

#include "structured/json_matcher.h"

namespace swarmkv {
namespace {

std::string Err(ApiKind kind, const std::string& body) {
  auto r = ParseApiRequest(kind, body);
  if (!r.ok()) return r.status().message();
  auto g = OutputGrammarFor(*r);
  return g.ok() ? "OK" : g.status().message();
}
bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const char* kTools = R"([{"type":"function","function":{"name":"get_weather","description":"d",
    "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
    {"type":"function","function":{"name":"add","parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}])";

TEST(AgentFieldsTest, EveryFieldWeDoNotImplementIsAnErrorNamingIt) {
  const std::string m = R"("model":"m","messages":[{"role":"user","content":"hi"}])";
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"logit_bias":{"5":10}})"), "logit_bias"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"functions":[]})"), "functions"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"audio":{}})"), "audio"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"n":2,"stream":true})"), "'n'"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"n":99})"), "'n'"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"top_logprobs":3})"), "logprobs"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"top_logprobs":30,"logprobs":true})"), "top_logprobs"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"tool_choice":"required"})"), "tool_choice"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"tools":)" + kTools + R"(,"tool_choice":{"type":"function","function":{"name":"nope"}}})"), "nope"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"response_format":{"type":"xml"}})"), "response_format.type"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"a+"}}}})"), "pattern"));
  EXPECT_TRUE(Has(Err(ApiKind::kOllamaChat, "{" + m + R"(,"format":"yaml"})"), "format"));
  EXPECT_TRUE(Has(Err(ApiKind::kOllamaChat, "{" + m + R"(,"format":{"type":"integer","minimum":1}})"), "minimum"));
  EXPECT_TRUE(Has(Err(ApiKind::kOllamaChat, "{" + m + R"(,"think":"lots"})"), "think"));
  EXPECT_TRUE(Has(Err(ApiKind::kOllamaGenerate, R"({"model":"m","prompt":"p","tools":[]})"), "tools"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAICompletion, R"({"model":"m","prompt":"p","logprobs":9})"), "logprobs"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"tools":[{"type":"function","function":{"name":"a b"}}]})"), "tools[0]"));
  EXPECT_TRUE(Has(Err(ApiKind::kOpenAIChat, "{" + m + R"(,"tools":)" + kTools + R"(,"tool_choice":"required","response_format":{"type":"json_object"}})"), "cannot be combined"));
}

TEST(AgentFieldsTest, ToolsToolChoiceAndToolTurnsParse) {
  auto r = ParseApiRequest(ApiKind::kOpenAIChat, std::string(R"({"model":"m","tools":)") + kTools + R"(,
    "tool_choice":{"type":"function","function":{"name":"add"}},"parallel_tool_calls":false,
    "messages":[{"role":"user","content":"2+3?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"add","arguments":"{\"a\":2,\"b\":3}"}}]},
      {"role":"tool","tool_call_id":"call_1","content":"5"}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->has_tools());
  EXPECT_EQ(r->tool_choice, ToolChoice::kNamed);
  EXPECT_FALSE(r->parallel_tool_calls);
  ASSERT_EQ(r->messages.size(), 3u);
  ASSERT_EQ(r->messages[1].tool_calls.size(), 1u);
  EXPECT_EQ(r->messages[1].tool_calls[0].arguments["b"], 3);  // the JSON string became an object
  EXPECT_EQ(r->messages[2].tool_name, "add");                 // found through tool_call_id
  auto g = OutputGrammarFor(*r);
  ASSERT_TRUE(g.ok() && g->has_value());
  JsonMatcher m((*g)->grammar.get(), {});
  EXPECT_TRUE(m.FeedAll(R"({"name": "add", "arguments": {"a": 2, "b": 3}})") && m.Accepting());
  JsonMatcher other((*g)->grammar.get(), {});
  EXPECT_FALSE(other.FeedAll(R"({"name": "get_weather")"));  // only the named tool

  auto o = ParseApiRequest(ApiKind::kOllamaChat, std::string(R"({"model":"m","tools":)") + kTools + R"(,"think":true,
    "logprobs":true,"top_logprobs":2,"format":"json",
    "messages":[{"role":"assistant","content":"","tool_calls":[{"function":{"name":"add","arguments":{"a":1,"b":2}}}]},
                {"role":"tool","tool_name":"add","content":"3"}]})");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->think, true);
  EXPECT_TRUE(o->logprobs);
  EXPECT_EQ(o->top_logprobs, 2);
  EXPECT_EQ(o->format, OutputFormat::kJsonObject);
  EXPECT_EQ(o->messages[0].tool_calls[0].arguments["a"], 1);
  EXPECT_EQ(o->messages[1].tool_name, "add");
}

TEST(AgentFieldsTest, FormatsGiveTheirGrammar) {
  auto r = ParseApiRequest(ApiKind::kOpenAIChat, R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":3,
    "response_format":{"type":"json_schema","json_schema":{"name":"p","strict":true,"schema":{"type":"object",
    "properties":{"z":{"type":"boolean"},"a":{"type":"string"}},"required":["z","a"],"additionalProperties":false}}}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->n, 3);
  auto g = OutputGrammarFor(*r);
  ASSERT_TRUE(g.ok() && g->has_value());
  JsonMatcher m((*g)->grammar.get(), {});
  EXPECT_TRUE(m.FeedAll(R"({"z": true, "a": "b"})") && m.Accepting());  // the schema's own key order
  auto t = ParseApiRequest(ApiKind::kOpenAIChat, R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(t.ok());
  auto none = OutputGrammarFor(*t);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace swarmkv
