// libFuzzer target for the JSON-schema compiler and matcher of structured output (src/structured/):
// any schema a client sends must compile or be a clear error — never a crash, a hang, unbounded
// memory or recursion — and any text the compiled matcher accepts must be valid JSON (the
// matcher's promise: every output it completes validates against the schema).
//
// Input: a JSON schema, then optionally a NUL byte and candidate output bytes fed to the matcher.
// The schema is parsed as the server parses it (server/json_limits.h: refused past 64 levels).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/json_limits.h"
#include "structured/json_grammar.h"
#include "structured/json_matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swarmkv;
  if (size > (64 << 10)) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view schema_text = in.substr(0, nul);
  // Parsed as the server parses a request's schema (depth 64, element cap).
  auto schema = ParseOrderedJsonLimited(schema_text, JsonLimits{}, "schema");
  if (!schema.ok()) return 0;
  auto grammar = JsonGrammar::Compile(*schema);
  if (!grammar.ok()) return 0;
  if (grammar->root < 0 || grammar->root >= static_cast<int32_t>(grammar->nodes.size())) std::abort();
  MatcherOptions mo;
  mo.max_string_chars = 256;
  mo.max_items = 64;
  JsonMatcher m(&*grammar, mo);
  const std::string_view output = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  const bool fed = m.FeedAll(output);
  (void)m.Key(16);
  if (fed && m.Accepting() && !nlohmann::json::accept(output)) std::abort();  // accepted text that is not JSON
  return 0;
}
