// ParseJsonLimited: nlohmann::json parsing of client-supplied text with hard caps on nesting depth
// and element count, enforced DURING parsing (a SAX pass that aborts at the first value past a
// cap) before any DOM is built.
//
// Why: nlohmann's parser itself is iterative, but copying, comparing and dumping a json value
// recurse once per level: a 2 MB body of 1,000,000 nested arrays parses fine and then overflows
// the stack the first time the value is copied or serialised. With depth capped, every later
// recursion over a parsed value is bounded.
//
// Invariant: a returned value nests at most max_depth arrays/objects and holds at most
// max_elements values in total; anything else is an InvalidArgument naming the cap and the
// byte offset where it was crossed.
//
// Thread-safety: stateless.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace swarmkv {

struct JsonLimits {
  int max_depth = 64;                 // nested arrays/objects; the top-level value is depth 1
  size_t max_elements = size_t{1} << 20;  // every value (scalars, arrays, objects) counts once
};

// `what` names the text in error messages ("request body").
Result<nlohmann::json> ParseJsonLimited(std::string_view text, const JsonLimits& limits = {},
                                        std::string_view what = "request body");
// The same into an ordered_json: objects keep the client's key order (JSON schemas, tool
// arguments: the model is shown, and generates, keys in that order).
Result<nlohmann::ordered_json> ParseOrderedJsonLimited(std::string_view text, const JsonLimits& limits = {},
                                                       std::string_view what = "request body");

}  // namespace swarmkv
