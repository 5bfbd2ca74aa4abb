#include "server/api_request.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

// The error message of parsing `body` as `kind`, or "OK".
std::string Err(ApiKind kind, const std::string& body) {
  auto r = ParseApiRequest(kind, body);
  return r.ok() ? "OK" : r.status().message();
}

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(ApiRequestTest, OllamaGenerateWithOptionsContextRawAndKeepAlive) {
  auto r = ParseApiRequest(ApiKind::kOllamaGenerate, R"({
    "model": "m", "prompt": "hi", "raw": true, "context": [1, 2, 3], "keep_alive": "10m", "system": "s",
    "options": {"num_ctx": 2048, "num_predict": 16, "temperature": 0, "top_k": 5, "top_p": 0.5, "min_p": 0.1,
                "seed": 42, "stop": ["\n", "END"], "repeat_penalty": 1.3}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "m");
  EXPECT_TRUE(r->stream);  // Ollama streams by default
  EXPECT_TRUE(r->raw);
  EXPECT_EQ(r->context, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r->keep_alive_ms, 600000);
  EXPECT_EQ(r->system, "s");
  EXPECT_EQ(r->num_ctx, 2048);
  EXPECT_EQ(r->num_predict, 16);
  EXPECT_EQ(r->sampling.temperature, 0.0f);
  EXPECT_EQ(r->sampling.top_k, 5);
  EXPECT_EQ(r->sampling.top_p, 0.5f);
  EXPECT_FLOAT_EQ(r->sampling.min_p, 0.1f);
  EXPECT_TRUE(r->sampling.has_seed);
  EXPECT_EQ(r->sampling.seed, 42u);
  EXPECT_EQ(r->stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_FLOAT_EQ(r->sampling.repeat_penalty, 1.3f);
}

TEST(ApiRequestTest, OllamaDefaults) {
  auto r = ParseApiRequest(ApiKind::kOllamaChat, R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":false,"keep_alive":0})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->stream);
  EXPECT_EQ(r->keep_alive_ms, 0);
  EXPECT_FLOAT_EQ(r->sampling.temperature, 0.8f);
  EXPECT_EQ(r->sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r->sampling.repeat_penalty, 1.1f);
  EXPECT_FALSE(r->sampling.has_seed);
  EXPECT_EQ(r->num_predict, -1);
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].role, "user");
}

TEST(ApiRequestTest, OpenAIChatWithPartsAndUsage) {
  auto r = ParseApiRequest(ApiKind::kOpenAIChat, R"({"model":"m","stream":true,"stream_options":{"include_usage":true},
    "max_tokens":8,"stop":"###","seed":7,"messages":[{"role":"developer","content":"be brief"},
    {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->num_predict, 8);
  EXPECT_EQ(r->stop, std::vector<std::string>{"###"});
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[1].content, "ab");
  EXPECT_FLOAT_EQ(r->sampling.temperature, 1.0f);
  EXPECT_EQ(r->sampling.top_k, 0);
  auto c = ParseApiRequest(ApiKind::kOpenAICompletion, R"({"model":"m","prompt":["once"]})");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->stream);
  EXPECT_EQ(c->prompt, "once");
}

TEST(ApiRequestTest, BadInputGetsClearMessages) {
  using K = ApiKind;
  EXPECT_TRUE(Has(Err(K::kOllamaChat, "{"), "not valid JSON"));
  EXPECT_TRUE(Has(Err(K::kOllamaChat, "[]"), "must be a JSON object"));
  EXPECT_TRUE(Has(Err(K::kOllamaChat, "{}"), "'model' is required"));
  EXPECT_TRUE(Has(Err(K::kOllamaChat, R"({"model":5})"), "'model' must be a string, got number"));
  EXPECT_TRUE(Has(Err(K::kOllamaChat, R"({"model":"m"})"), "'messages' is required"));
  EXPECT_TRUE(Has(Err(K::kOllamaChat, R"({"model":"m","messages":[]})"), "'messages' is empty"));
  EXPECT_TRUE(Has(Err(K::kOllamaChat, R"({"model":"m","messages":"hi"})"), "'messages' must be an array"));
  EXPECT_TRUE(Has(Err(K::kOllamaChat, R"({"model":"m","messages":[{"role":"king","content":"x"}]})"), "'king'"));
  EXPECT_TRUE(Has(Err(K::kOllamaChat, R"({"model":"m","messages":[{"content":"x"}]})"), "has no 'role'"));
  EXPECT_TRUE(Has(Err(K::kOllamaChat, R"({"model":"m","messages":[{"role":"user","content":3}]})"), "messages[0].content"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","stream":"yes"})"), "'stream' must be true or false"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","options":{"temperature":"hot"}})"), "options.temperature"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","options":{"num_predict":100000000}})"), "more than the limit"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","options":{"num_predict":-7}})"), "-7"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","options":{"num_predict":1.5}})"), "an integer"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","options":{"num_ctx":0}})"), "options.num_ctx"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","options":{"top_p":2}})"), "top_p"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","options":{"stop":[1]}})"), "options.stop[]"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","options":[]})"), "'options' must be an object"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","context":[-1]})"), "'context'"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","keep_alive":"forever"})"), "keep_alive"));
  EXPECT_TRUE(Has(Err(K::kOllamaGenerate, R"({"model":"m","images":["x"]})"), "text models only"));
  EXPECT_TRUE(Has(Err(K::kOpenAIChat, R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":17})"), "field 'n'"));
  EXPECT_TRUE(Has(Err(K::kOpenAIChat, R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0})"), "at least 1"));
  EXPECT_TRUE(Has(Err(K::kOpenAICompletion, R"({"model":"m"})"), "'prompt' is required"));
  EXPECT_TRUE(Has(Err(K::kOpenAICompletion, R"({"model":"m","prompt":{}})"), "'prompt' must be a string"));
  // Unknown fields are ignored: clients send many.
  EXPECT_EQ(Err(K::kOpenAIChat, R"({"model":"m","messages":[{"role":"user","content":"x"}],"user":"u","tools":null})"), "OK");
}

// A Modelfile's params layer sets the model's defaults: over the API's, under the request's.
TEST(ApiRequestTest, ModelParametersAreDefaultsTheRequestOverrides) {
  const std::string params = R"({"temperature":0.2,"top_k":7,"stop":["<|im_end|>"],"num_ctx":4096})";
  auto plain = ParseApiRequest(ApiKind::kOllamaGenerate, R"({"model":"m","prompt":"hi"})", params);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FLOAT_EQ(plain->sampling.temperature, 0.2f);
  EXPECT_EQ(plain->sampling.top_k, 7);
  EXPECT_FLOAT_EQ(plain->sampling.top_p, 0.9f);  // the API default where the model says nothing
  EXPECT_EQ(plain->stop, std::vector<std::string>{"<|im_end|>"});
  EXPECT_EQ(plain->num_ctx, 4096);

  auto over = ParseApiRequest(ApiKind::kOllamaGenerate,
                              R"({"model":"m","prompt":"hi","options":{"temperature":0.9,"num_ctx":512}})", params);
  ASSERT_TRUE(over.ok());
  EXPECT_FLOAT_EQ(over->sampling.temperature, 0.9f);
  EXPECT_EQ(over->sampling.top_k, 7);
  EXPECT_EQ(over->num_ctx, 512);

  auto openai = ParseApiRequest(ApiKind::kOpenAIChat, R"({"model":"m","messages":[{"role":"user","content":"x"}]})", params);
  ASSERT_TRUE(openai.ok());
  EXPECT_FLOAT_EQ(openai->sampling.temperature, 0.2f);

  // A params layer that is not an object is ignored; a bad value in one names where it is.
  EXPECT_TRUE(ParseApiRequest(ApiKind::kOllamaGenerate, R"({"model":"m"})", "[1,2]").ok());
  auto bad = ParseApiRequest(ApiKind::kOllamaGenerate, R"({"model":"m"})", R"({"temperature":-1})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("model parameters.temperature"), std::string::npos) << bad.status().ToString();

  auto tmpl = ParseApiRequest(ApiKind::kOllamaGenerate, R"({"model":"m","prompt":"hi","template":"llama3"})");
  ASSERT_TRUE(tmpl.ok());
  EXPECT_EQ(tmpl->template_text, "llama3");
}

TEST(ApiRequestTest, NeverThrowsOnTruncatedBodies) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"hello"}],"options":{"num_ctx":64,"stop":["a"]}})";
  for (ApiKind k : {ApiKind::kOllamaGenerate, ApiKind::kOllamaChat, ApiKind::kOpenAIChat, ApiKind::kOpenAICompletion})
    for (size_t n = 0; n <= body.size(); ++n) (void)ParseApiRequest(k, body.substr(0, n));
}

}  // namespace
}  // namespace swarmkv
