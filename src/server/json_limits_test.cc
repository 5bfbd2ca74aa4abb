#include "server/json_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace swarmkv {
namespace {

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonLimitsTest, AcceptsOrdinaryJson) {
  auto v = ParseJsonLimited(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)["messages"][0]["content"], "hi");
}

TEST(JsonLimitsTest, DepthAtTheCapPassesOneMoreFails) {
  JsonLimits l;
  l.max_depth = 10;
  EXPECT_TRUE(ParseJsonLimited(Nested(10), l).ok());
  auto v = ParseJsonLimited(Nested(11), l);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("deeper than 10"), std::string::npos) << v.status().message();
}

TEST(JsonLimitsTest, MillionDeepNestingIsRefusedWithoutRecursion) {
  // The attack of issue 17: would overflow the stack when copied or dumped.
  std::string body = R"({"model":"m","messages":)" + Nested(1000000) + "}";
  auto v = ParseJsonLimited(body);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("nested deeper"), std::string::npos);
  // Unterminated nesting is refused at the cap as well, not first read to the end.
  EXPECT_FALSE(ParseJsonLimited(std::string(1000000, '[')).ok());
}

TEST(JsonLimitsTest, ElementCountIsCapped) {
  JsonLimits l;
  l.max_elements = 100;
  std::string arr = "[";
  for (int i = 0; i < 99; ++i) arr += (i ? ",0" : "0");
  arr += "]";  // 99 numbers + the array = 100 values
  EXPECT_TRUE(ParseJsonLimited(arr, l).ok());
  arr.insert(arr.size() - 1, ",1");
  auto v = ParseJsonLimited(arr, l);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("more than 100 JSON values"), std::string::npos);
}

TEST(JsonLimitsTest, SyntaxErrorsSayNotValidJson) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,2", "nul", "{} x"}) {
    auto v = ParseJsonLimited(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_NE(v.status().message().find("not valid JSON"), std::string::npos) << bad << ": " << v.status().message();
  }
}

}  // namespace
}  // namespace swarmkv
