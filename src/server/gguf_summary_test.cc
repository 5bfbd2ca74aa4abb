#include "server/gguf_summary.h"

#include <gtest/gtest.h>

#include "base/env.h"
#include "base/testing.h"

namespace swarmkv {
namespace {

TEST(GgufSummaryTest, FormatsParameterCountsLikeOllama) {
  EXPECT_EQ(FormatParameterCount(999), "999");
  EXPECT_EQ(FormatParameterCount(260000), "260K");
  EXPECT_EQ(FormatParameterCount(134515008), "134.5M");
  EXPECT_EQ(FormatParameterCount(7241732096ull), "7.2B");
}

TEST(GgufSummaryTest, ReadsARealModelsHeader) {
  std::string path = SKV_REQUIRE_SHARED("models/stories260K.gguf");
  auto s = SummarizeGguf(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->architecture, "llama");
  EXPECT_EQ(s->context_length, 2048);
  EXPECT_EQ(s->quantization_level, "F32");  // 48 x F32 (README of ../shared/models)
  EXPECT_GT(s->parameter_count, 200000u);
  EXPECT_LT(s->parameter_count, 400000u);
  EXPECT_EQ(s->model_info["general.architecture"], "llama");
  EXPECT_TRUE(s->model_info["tokenizer.ggml.tokens"].is_null());  // arrays are not dumped
  auto q8 = SummarizeGguf(SKV_REQUIRE_SHARED("models/tinystories-656k-q8_0.gguf"));
  ASSERT_TRUE(q8.ok());
  EXPECT_EQ(q8->quantization_level, "Q8_0");
}

TEST(GgufSummaryTest, NotAGgufIsAClearErrorAndCached) {
  std::string path = testing::TempDir("gguf-summary") + "/bad.gguf";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, std::string("not a gguf at all"), false).ok());
  GgufSummaryCache cache;
  auto a = cache.Get(path);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().ToString().find("bad.gguf"), std::string::npos) << a.status().ToString();
  EXPECT_FALSE(cache.Get(path).ok());
}

}  // namespace
}  // namespace swarmkv
