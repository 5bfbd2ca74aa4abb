#include "server/api_response.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

using json = nlohmann::json;

GenerationStats Stats() {
  GenerationStats s;
  s.prompt_tokens = 10;
  s.prompt_tokens_reused = 8;
  s.generated_tokens = 3;
  s.prefill_ns = 100;
  s.decode_ns = 200;
  s.finish_reason = "length";
  return s;
}

TEST(ApiResponseTest, OllamaFinalGenerateHasEveryField) {
  ResponseMeta meta{"m:latest", "", 0};
  FinalCounts c;
  c.stats = Stats();
  c.total_ns = 1000;
  c.load_ns = 5;
  c.context = {1, 2, 3};
  json j = OllamaFinal(ApiKind::kOllamaGenerate, meta, "abc", c);
  EXPECT_EQ(j["model"], "m:latest");
  EXPECT_EQ(j["response"], "abc");
  EXPECT_EQ(j["done"], true);
  EXPECT_EQ(j["done_reason"], "length");
  EXPECT_EQ(j["context"], json({1, 2, 3}));
  EXPECT_EQ(j["total_duration"], 1000);
  EXPECT_EQ(j["load_duration"], 5);
  EXPECT_EQ(j["prompt_eval_count"], 10);
  EXPECT_EQ(j["prompt_eval_duration"], 100);
  EXPECT_EQ(j["eval_count"], 3);
  EXPECT_EQ(j["eval_duration"], 200);
  std::string created = j["created_at"];
  EXPECT_EQ(created.size(), std::string("2024-05-01T12:00:00.123456789Z").size()) << created;
  json chat = OllamaFinal(ApiKind::kOllamaChat, meta, "", c);
  EXPECT_EQ(chat["message"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_FALSE(chat.contains("context"));
  EXPECT_FALSE(chat.contains("response"));
}

TEST(ApiResponseTest, OpenAIShapes) {
  ResponseMeta meta{"m", "chatcmpl-1", 123};
  json full = OpenAIComplete(ApiKind::kOpenAIChat, meta, "hi", Stats());
  EXPECT_EQ(full["object"], "chat.completion");
  EXPECT_EQ(full["choices"][0]["message"]["content"], "hi");
  EXPECT_EQ(full["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(full["usage"]["prompt_tokens"], 10);
  EXPECT_EQ(full["usage"]["completion_tokens"], 3);
  EXPECT_EQ(full["usage"]["total_tokens"], 13);
  EXPECT_EQ(full["usage"]["prompt_tokens_details"]["cached_tokens"], 8);
  json first = OpenAIChunk(ApiKind::kOpenAIChat, meta, "h", true);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(OpenAIChunk(ApiKind::kOpenAIChat, meta, "i", false)["choices"][0]["delta"].contains("role"));
  json text = OpenAIComplete(ApiKind::kOpenAICompletion, meta, "t", Stats());
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(text["choices"][0]["text"], "t");
  EXPECT_EQ(OpenAIUsageChunk(ApiKind::kOpenAIChat, meta, Stats())["choices"], json::array());
  EXPECT_EQ(SseEvent(json{{"a", 1}}), "data: {\"a\":1}\n\n");
}

TEST(ApiResponseTest, ErrorsAndStatusCodes) {
  EXPECT_EQ(ErrorBody(false, 400, "bad"), "{\"error\":\"bad\"}");
  json o = json::parse(ErrorBody(true, 404, "nope"));
  EXPECT_EQ(o["error"]["message"], "nope");
  EXPECT_EQ(o["error"]["type"], "not_found_error");
  EXPECT_EQ(HttpStatusFor(InvalidArgumentError("x")), 400);
  EXPECT_EQ(HttpStatusFor(NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusFor(ResourceExhaustedError("x")), 503);
  EXPECT_EQ(HttpStatusFor(UnimplementedError("x")), 501);
  EXPECT_EQ(HttpStatusFor(CorruptionError("x")), 500);
  // Invalid UTF-8 never throws: it is replaced.
  EXPECT_EQ(NdjsonLine(json{{"t", std::string("\xff")}}), "{\"t\":\"\xEF\xBF\xBD\"}\n");
}

}  // namespace
}  // namespace swarmkv
