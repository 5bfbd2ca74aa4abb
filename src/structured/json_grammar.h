// JsonGrammar: a JSON Schema (the subset real clients send) compiled into a graph of value nodes
// that JsonMatcher walks byte by byte.
//
// Supported: type (string, number, integer, boolean, null, object, array, or a list of them),
// properties, required, additionalProperties (false, true or a schema: extra keys are never
// generated, so the output validates either way), items, minItems, maxItems, minLength,
// maxLength, enum, const, anyOf/oneOf, allOf of one schema, $ref to "#", "#/$defs/..." or
// "#/definitions/..." (recursion allowed), nullable (OpenAPI), format "uuid", and annotations
// (title, description, default, examples, $schema, $id, $comment, deprecated, readOnly,
// writeOnly, strict). Anything else is an InvalidArgument error naming the keyword and where it is,
// never silently ignored: an ignored keyword would let output that fails validation through.
//
// Output shape (what the matcher allows): compact JSON, properties in the schema document's order
// (optional ones may be skipped, additional ones are never written), at most one space after ':'
// and ','. Every output the matcher completes validates against the schema.
//
// Invariant: node 0 is "any JSON value", node 1 "any string"; every node index in the graph is
// in range. Thread-safety: immutable after Compile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace swarmkv {

struct GrammarNode {
  enum Kind : uint8_t {
    kAny,       // any JSON value
    kObject,    // properties in order; generic (any keys, any values) when `generic`
    kArray,     // items of node `items`
    kString,    // any string, length limits in characters
    kNumber,    // JSON number
    kInteger,   // JSON integer (no fraction, no exponent)
    kLiterals,  // one of `literals` (compact JSON texts): enum, const, true/false, null
    kTemplate,  // a string of fixed shape: `literals[0]` with 'H' = a hex digit (format uuid)
    kAnyOf,     // one of `branches`
  };
  Kind kind = kAny;
  bool generic = false;              // kObject: any keys
  std::vector<std::string> keys;     // kObject: JSON-encoded keys, quotes included
  std::vector<int32_t> key_nodes;    // kObject: the value node of each key
  uint64_t required_mask = 0;        // kObject: bit i <=> keys[i] is required
  int32_t items = 0;                 // kArray
  int32_t min_count = 0;             // kArray: minItems; kString: minLength
  int32_t max_count = -1;            // kArray: maxItems; kString: maxLength; -1 none
  std::vector<std::string> literals; // kLiterals, kTemplate
  std::vector<int32_t> branches;     // kAnyOf
};

struct JsonGrammar {
  static constexpr int32_t kAnyNode = 0;
  static constexpr int32_t kAnyStringNode = 1;
  static constexpr int32_t kMaxProperties = 64;  // per object (a candidate mask is 64 bits)
  static constexpr int32_t kMaxLiterals = 64;    // per enum

  std::vector<GrammarNode> nodes;
  int32_t root = kAnyNode;

  // Any JSON value (Ollama format "json", OpenAI json_object: an object at the top).
  static JsonGrammar AnyJson(bool object_only);
  // Compiles `schema`; errors name the keyword and its JSON pointer.
  static Result<JsonGrammar> Compile(const nlohmann::ordered_json& schema);
};

}  // namespace swarmkv
