#include "structured/token_mask.h"

#include <gtest/gtest.h>

#include <random>

namespace swarmkv {
namespace {

using ojson = nlohmann::ordered_json;

// A synthetic vocabulary: every single byte, JSON fragments, words, multi-byte characters, pieces
// that mix structure and text (what BPE vocabularies have), control tokens and one EOG token.
std::vector<std::string> SyntheticPieces() {
  std::vector<std::string> p;
  p.push_back("");  // control token: never allowed
  for (int b = 1; b < 256; ++b) p.push_back(std::string(1, static_cast<char>(b)));
  for (const char* s : {"{\"", "\":", "\": ", "\", \"", "\",", "\"}", "}}", "]}", "[\"", "\"]", "true", "false", "null",
                        "nul", "12", "345", "0.", ".5", "-1", "name", "age", "tags", "kids", " \"", ", ", "\\n", "\\u00",
                        "\xc3\xa9", "\xe2\x82\xac", "hello", " world", "{\"name\": \"", "\"}]", "[{\"", "},{", "\"\"",
                        "{}", "[]", "\"red\"", "green", "1,", "2]"})
    p.push_back(s);
  return p;
}

std::shared_ptr<const TokenTrie> SyntheticTrie(int32_t* eog) {
  std::vector<std::string> p = SyntheticPieces();
  *eog = static_cast<int32_t>(p.size());
  p.push_back("");
  return TokenTrie::Build(p, {*eog});
}

// A validator for the schema subset (the oracle: written from the JSON Schema spec, not from the
// matcher).
bool Validate(const ojson& v, const ojson& s, const ojson& root, int depth = 0) {
  if (depth > 64) return false;
  if (s.is_boolean()) return s.get<bool>();
  if (s.contains("$ref")) {
    std::string ref = s["$ref"];
    if (ref == "#") return Validate(v, root, root, depth + 1);
    std::string name = ref.substr(ref.rfind('/') + 1);
    const ojson& defs = root.contains("$defs") ? root["$defs"] : root["definitions"];
    return Validate(v, defs[name], root, depth + 1);
  }
  if (s.contains("nullable") && s["nullable"].get<bool>() && v.is_null()) return true;
  if (s.contains("anyOf") || s.contains("oneOf")) {
    for (const auto& b : s.contains("anyOf") ? s["anyOf"] : s["oneOf"])
      if (Validate(v, b, root, depth + 1)) return true;
    return false;
  }
  if (s.contains("allOf")) return Validate(v, s["allOf"][0], root, depth + 1);
  if (s.contains("const")) return v == s["const"];
  if (s.contains("enum")) {
    for (const auto& e : s["enum"])
      if (v == e) return true;
    return false;
  }
  if (s.contains("type")) {
    std::vector<std::string> types;
    if (s["type"].is_string()) types.push_back(s["type"]);
    else for (const auto& t : s["type"]) types.push_back(t);
    bool ok = false;
    for (const auto& t : types) {
      ok |= (t == "null" && v.is_null()) || (t == "boolean" && v.is_boolean()) || (t == "string" && v.is_string()) ||
            (t == "integer" && v.is_number_integer()) || (t == "number" && v.is_number()) ||
            (t == "object" && v.is_object()) || (t == "array" && v.is_array());
    }
    if (!ok) return false;
  }
  if (v.is_string()) {
    // Length in code points.
    size_t n = 0;
    for (unsigned char c : v.get<std::string>()) n += (c & 0xC0) != 0x80;
    if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return false;
    if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return false;
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return false;
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return false;
    if (s.contains("items"))
      for (const auto& x : v)
        if (!Validate(x, s["items"], root, depth + 1)) return false;
  }
  if (v.is_object()) {
    if (s.contains("required"))
      for (const auto& r : s["required"])
        if (!v.contains(r.get<std::string>())) return false;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (s.contains("properties") && s["properties"].contains(it.key())) {
        if (!Validate(it.value(), s["properties"][it.key()], root, depth + 1)) return false;
      } else if (s.contains("additionalProperties") && s["additionalProperties"].is_boolean() &&
                 !s["additionalProperties"].get<bool>()) {
        return false;
      }
    }
  }
  return true;
}

// A random schema of the supported subset, `depth` levels deep at most.
ojson RandomSchema(std::mt19937_64& rng, int depth, bool with_defs) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const int kind = depth <= 0 ? pick(6) : pick(11);
  switch (kind) {
    case 0: return {{"type", "string"}, {"maxLength", pick(6)}};
    case 1: return {{"type", "integer"}};
    case 2: return {{"type", "number"}, {"description", "a number"}};
    case 3: return {{"type", "boolean"}};
    case 4: return {{"enum", ojson::array({"red", "green", 1, 12, nullptr})}};
    case 5: return {{"type", ojson::array({"string", "null"})}, {"maxLength", 3}};
    case 6: case 7: {
      ojson props = ojson::object(), req = ojson::array();
      const int n = 1 + pick(4);
      for (int i = 0; i < n; ++i) {
        std::string name = std::string(1, static_cast<char>('a' + i)) + (pick(2) ? "x" : "");
        props[name] = RandomSchema(rng, depth - 1, with_defs);
        if (pick(2)) req.push_back(name);
      }
      ojson o = {{"type", "object"}, {"properties", props}, {"required", req}};
      if (pick(2)) o["additionalProperties"] = false;
      return o;
    }
    case 8: {
      ojson a = {{"type", "array"}, {"items", RandomSchema(rng, depth - 1, with_defs)}, {"maxItems", 1 + pick(3)}};
      if (pick(2)) a["minItems"] = 1;
      return a;
    }
    case 9: return {{"anyOf", ojson::array({RandomSchema(rng, depth - 1, with_defs), RandomSchema(rng, depth - 1, with_defs)})}};
    default:
      if (with_defs) return {{"$ref", "#/$defs/leaf"}};
      return {{"const", "k"}};
  }
}

// Samples one output under the constraint with random "logits" (a random-weight model's stand-in:
// an arbitrary distribution over the vocabulary each step), like the engine: mask, pick, accept.
std::string Generate(const std::shared_ptr<GrammarMasks>& masks, std::mt19937_64& rng, int32_t eog, int max_tokens,
                     bool* complete) {
  JsonConstraint c(masks);
  std::string out;
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  const int32_t vocab = masks->trie().vocab_size();
  std::vector<float> logits(static_cast<size_t>(vocab));
  *complete = false;
  for (int step = 0; step < max_tokens; ++step) {
    if (c.Complete()) {
      *complete = true;
      return out;
    }
    auto allowed = c.Allowed();
    EXPECT_TRUE(allowed.ok()) << allowed.status().ToString() << " after " << out;
    if (!allowed.ok()) return out;
    for (auto& l : logits) l = u(rng);
    int32_t best = -1;
    for (int32_t t = 0; t < vocab; ++t)
      if (((*allowed)[static_cast<size_t>(t) / 64] >> (t % 64)) & 1)
        if (best < 0 || logits[static_cast<size_t>(t)] > logits[static_cast<size_t>(best)]) best = t;
    EXPECT_GE(best, 0);
    if (best < 0) return out;
    EXPECT_TRUE(c.Accept(best).ok());
    if (best == eog) {
      *complete = true;
      return out;
    }
    out += masks->trie().piece(best);
  }
  return out;
}

TEST(TokenTrieTest, EveryTokenWithBytesIsReachableOnce) {
  int32_t eog = 0;
  auto trie = SyntheticTrie(&eog);
  std::vector<int> seen(static_cast<size_t>(trie->vocab_size()), 0);
  for (const auto& n : trie->nodes())
    for (uint32_t k = n.tok_begin; k < n.tok_end; ++k) ++seen[static_cast<size_t>(trie->tokens()[k])];
  for (int32_t t = 0; t < trie->vocab_size(); ++t)
    EXPECT_EQ(seen[static_cast<size_t>(t)], trie->piece(t).empty() || t == eog ? 0 : 1) << t;
}

TEST(TokenMaskTest, MaskAllowsExactlyTheTokensThatContinue) {
  int32_t eog = 0;
  auto trie = SyntheticTrie(&eog);
  ConstraintCache cache(trie);
  auto masks = cache.Get("s", [] { return JsonGrammar::Compile(ojson::parse(R"({"type":"object","properties":
      {"name":{"type":"string"}},"required":["name"]})")); });
  ASSERT_TRUE(masks.ok());
  JsonMatcher start = (*masks)->Start();
  auto e = (*masks)->MaskFor(start);
  for (int32_t t = 0; t < trie->vocab_size(); ++t) {
    JsonMatcher m = start;
    const bool expect = !trie->piece(t).empty() && t != eog && m.FeedAll(trie->piece(t));
    EXPECT_EQ(((e->bits[static_cast<size_t>(t) / 64] >> (t % 64)) & 1) != 0, expect) << "token " << t;
  }
  EXPECT_FALSE((e->bits[static_cast<size_t>(eog) / 64] >> (eog % 64)) & 1);  // nothing complete yet
  // The same schema key returns the same compiled grammar, with its warm cache.
  auto again = cache.Get("s", [] { return Result<JsonGrammar>(InvalidArgumentError("not called")); });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), masks->get());
  (*masks)->MaskFor(start);
  EXPECT_EQ((*masks)->stats().hits, 1);
}

TEST(TokenMaskTest, PropertyRandomSchemasRandomModelsAlwaysParseAndValidate) {
  int32_t eog = 0;
  auto trie = SyntheticTrie(&eog);
  int completed = 0;
  for (uint64_t schema_seed = 1; schema_seed <= 60; ++schema_seed) {
    std::mt19937_64 srng(schema_seed);
    const bool with_defs = schema_seed % 3 == 0;
    ojson schema = RandomSchema(srng, 3, with_defs);
    if (with_defs) schema["$defs"] = {{"leaf", {{"type", "string"}, {"maxLength", 2}}}};
    auto g = JsonGrammar::Compile(schema);
    ASSERT_TRUE(g.ok()) << schema.dump() << ": " << g.status().ToString();
    MatcherOptions o;
    o.max_string_chars = 8;  // a random model rarely closes a string on its own
    o.max_items = 3;
    auto masks = std::make_shared<GrammarMasks>(std::move(g).value(), trie, o);
    for (uint64_t model_seed = 0; model_seed < 5; ++model_seed) {
      std::mt19937_64 rng(schema_seed * 1000 + model_seed);
      bool complete = false;
      std::string out = Generate(masks, rng, eog, 400, &complete);
      ASSERT_TRUE(complete) << schema.dump() << " -> " << out;
      ojson v = ojson::parse(out, nullptr, /*allow_exceptions=*/false);
      ASSERT_FALSE(v.is_discarded()) << schema.dump() << " -> " << out;
      EXPECT_TRUE(Validate(v, schema, schema)) << schema.dump() << " -> " << out;
      ++completed;
    }
  }
  EXPECT_EQ(completed, 300);
}

}  // namespace
}  // namespace swarmkv
