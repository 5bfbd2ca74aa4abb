#include "structured/json_grammar.h"

#include <gtest/gtest.h>

#include "structured/json_matcher.h"

namespace swarmkv {
namespace {

using ojson = nlohmann::ordered_json;

JsonGrammar MustCompile(const std::string& schema) {
  auto g = JsonGrammar::Compile(ojson::parse(schema));
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? std::move(g).value() : JsonGrammar::AnyJson(false);
}

// True when `text` is a complete output of `g`.
bool Accepts(const JsonGrammar& g, const std::string& text, MatcherOptions o = {}) {
  JsonMatcher m(&g, o);
  return m.FeedAll(text) && m.Accepting();
}
// True when `text` can be continued to a complete output (every byte was accepted).
bool Prefix(const JsonGrammar& g, const std::string& text) {
  JsonMatcher m(&g, {});
  return m.FeedAll(text);
}

TEST(JsonGrammarTest, AnyJsonAcceptsValuesAndRefusesNonJson) {
  JsonGrammar g = JsonGrammar::AnyJson(false);
  for (const char* ok : {"{}", "[]", "1", "-0.5", "\"a\\u00e9\\n\"", "true", "null",
                         "{\"a\": [1, 2, {\"b\":null}], \"c\":\"\xc3\xa9\"}"})
    EXPECT_TRUE(Accepts(g, ok)) << ok;
  for (const char* bad : {"{", "[1,]", "01", "1e5", "\"\x01\"", "{\"a\" :1}", "{'a':1}", "tru", "{}x", " {}",
                          "\"\xc3\"", "\"\xed\xa0\x80\"", "[1,  2]"})
    EXPECT_FALSE(Accepts(g, bad)) << bad;
  JsonGrammar obj = JsonGrammar::AnyJson(true);
  EXPECT_TRUE(Accepts(obj, "{\"x\": 1}"));
  EXPECT_FALSE(Prefix(obj, "["));
}

TEST(JsonGrammarTest, ObjectPropertiesInOrderRequiredAndOptional) {
  JsonGrammar g = MustCompile(R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
      "tags":{"type":"array","items":{"type":"string"},"maxItems":2}},"required":["name","tags"],"additionalProperties":false})");
  EXPECT_TRUE(Accepts(g, R"({"name": "a", "age": 3, "tags": []})"));
  EXPECT_TRUE(Accepts(g, R"({"name":"a","tags":["x","y"]})"));
  EXPECT_FALSE(Accepts(g, R"({"name":"a","tags":["x","y","z"]})"));  // maxItems
  EXPECT_FALSE(Accepts(g, R"({"name":"a"})"));                        // tags required
  EXPECT_FALSE(Prefix(g, R"({"age")"));                               // name is required first
  EXPECT_FALSE(Prefix(g, R"({"name":"a","age":1.5)"));                // integer
  EXPECT_FALSE(Prefix(g, R"({"name":"a","other")"));                  // no extra keys
}

TEST(JsonGrammarTest, EnumsConstAnyOfNullableAndTypeLists) {
  JsonGrammar e = MustCompile(R"({"enum":["red","green",1,12,null]})");
  for (const char* ok : {"\"red\"", "\"green\"", "1", "12", "null"}) EXPECT_TRUE(Accepts(e, ok)) << ok;
  for (const char* bad : {"\"blue\"", "2", "123", "\"re\""}) EXPECT_FALSE(Accepts(e, bad)) << bad;
  JsonGrammar c = MustCompile(R"({"const":{"k":[1]}})");
  EXPECT_TRUE(Accepts(c, R"({"k":[1]})"));
  JsonGrammar u = MustCompile(R"({"anyOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                                          {"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}]})");
  EXPECT_TRUE(Accepts(u, R"({"a":1})"));
  EXPECT_TRUE(Accepts(u, R"({"b":"x"})"));
  EXPECT_FALSE(Accepts(u, R"({"a":"x"})"));
  JsonGrammar n = MustCompile(R"({"type":["string","null"]})");
  EXPECT_TRUE(Accepts(n, "null"));
  EXPECT_TRUE(Accepts(n, "\"s\""));
  JsonGrammar o = MustCompile(R"({"type":"integer","nullable":true})");
  EXPECT_TRUE(Accepts(o, "null"));
  EXPECT_TRUE(Accepts(o, "-7"));
}

TEST(JsonGrammarTest, RefsIncludingRecursion) {
  JsonGrammar g = MustCompile(R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
      "kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v","kids"]}},"$ref":"#/$defs/node"})");
  EXPECT_TRUE(Accepts(g, R"({"v":1,"kids":[{"v":2,"kids":[]},{"v":3,"kids":[{"v":4,"kids":[]}]}]})"));
  EXPECT_FALSE(Accepts(g, R"({"v":1,"kids":[{"v":2}]})"));
  JsonGrammar p = MustCompile(R"({"definitions":{"A":{"type":"string","minLength":2,"maxLength":3}},
      "type":"object","properties":{"a":{"$ref":"#/definitions/A"}},"required":["a"]})");
  EXPECT_TRUE(Accepts(p, R"({"a":"ab"})"));
  EXPECT_FALSE(Accepts(p, R"({"a":"a"})"));
  EXPECT_FALSE(Accepts(p, R"({"a":"abcd"})"));
}

TEST(JsonGrammarTest, StringLengthCountsCharactersAndEscapes) {
  JsonGrammar g = MustCompile(R"({"type":"string","maxLength":2})");
  EXPECT_TRUE(Accepts(g, "\"\xc3\xa9\xe2\x82\xac\""));  // two characters, five bytes
  EXPECT_TRUE(Accepts(g, "\"\\n\\u0041\""));
  EXPECT_FALSE(Accepts(g, "\"abc\""));
  // Beyond U+FFFF only without a length limit (zod counts those characters twice).
  EXPECT_FALSE(Accepts(g, "\"\xf0\x9f\x98\x80\""));
  EXPECT_TRUE(Accepts(JsonGrammar::AnyJson(false), "\"\xf0\x9f\x98\x80\""));
  JsonGrammar u = MustCompile(R"({"type":"string","format":"uuid"})");
  EXPECT_TRUE(Accepts(u, "\"123e4567-e89b-12d3-a456-426614174000\""));
  EXPECT_FALSE(Accepts(u, "\"123e4567\""));
}

TEST(JsonGrammarTest, NestingIsBounded) {
  JsonGrammar g = JsonGrammar::AnyJson(false);
  std::string deep(JsonMatcher::kMaxDepth, '[');
  EXPECT_TRUE(Prefix(g, deep));
  EXPECT_FALSE(Prefix(g, deep + "["));
}

TEST(JsonGrammarTest, UnsupportedKeywordsAreErrorsNamingThem) {
  for (const auto& [schema, word] : std::vector<std::pair<std::string, std::string>>{
           {R"({"type":"string","pattern":"^a"})", "pattern"},
           {R"({"type":"integer","minimum":0})", "minimum"},
           {R"({"type":"object","properties":{"a":{"type":"string","format":"email"}}})", "email"},
           {R"({"not":{}})", "not"},
           {R"({"type":"array","items":[{"type":"string"}]})", "tuple"},
           {R"({"$ref":"http://x/y"})", "$ref"},
           {R"({"type":"strange"})", "strange"}}) {
    auto g = JsonGrammar::Compile(ojson::parse(schema));
    ASSERT_FALSE(g.ok()) << schema;
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(g.status().message().find(word), std::string::npos) << g.status().message();
  }
}

TEST(JsonGrammarTest, KeysOfEqualStatesAreEqualAndClampFarLimits) {
  JsonGrammar g = MustCompile(R"({"type":"string","maxLength":1000})");
  JsonMatcher a(&g, {}), b(&g, {});
  a.FeedAll("\"abc");
  b.FeedAll("\"abcdef");
  EXPECT_EQ(a.Key(16), b.Key(16));  // both far from the limit
  JsonMatcher c(&g, {});
  c.FeedAll("\"" + std::string(995, 'x'));
  EXPECT_NE(a.Key(16), c.Key(16));  // five characters left: within one token's reach
}

}  // namespace
}  // namespace swarmkv
