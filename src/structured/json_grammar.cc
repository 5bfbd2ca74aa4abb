#include "structured/json_grammar.h"

#include <map>
#include <set>

namespace swarmkv {
namespace {

using json = nlohmann::ordered_json;

constexpr int kMaxSchemaDepth = 64;  // nesting of the schema document itself (hostile input)
constexpr size_t kMaxNodes = 4096;

const std::set<std::string>& Annotations() {
  static const std::set<std::string> s = {"title",    "description", "default",   "examples",  "$schema",
                                          "$id",      "$comment",    "deprecated", "readOnly", "writeOnly",
                                          "strict",   "$defs",       "definitions"};
  return s;
}

class Compiler {
 public:
  explicit Compiler(const json& root) : root_(root) {}

  Result<JsonGrammar> Run() {
    g_.nodes.resize(2);
    g_.nodes[JsonGrammar::kAnyNode].kind = GrammarNode::kAny;
    g_.nodes[JsonGrammar::kAnyStringNode].kind = GrammarNode::kString;
    SKV_ASSIGN_OR_RETURN(g_.root, Node(root_, "#", 0));
    return std::move(g_);
  }

 private:
  int32_t Add(GrammarNode n) {
    g_.nodes.push_back(std::move(n));
    return static_cast<int32_t>(g_.nodes.size() - 1);
  }

  static Status Bad(const std::string& where, const std::string& what) {
    return InvalidArgumentError("JSON schema at " + where + ": " + what);
  }

  Result<int32_t> Ref(const std::string& ref, const std::string& where, int depth) {
    auto it = refs_.find(ref);
    if (it != refs_.end()) return it->second;
    const json* target = nullptr;
    if (ref == "#") {
      target = &root_;
    } else {
      for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
        const std::string p(prefix);
        if (ref.rfind(p, 0) != 0) continue;
        const std::string section = p.substr(2, p.size() - 3);
        const std::string name = ref.substr(p.size());
        auto sec = root_.find(section);
        if (sec != root_.end() && sec->is_object() && sec->contains(name)) target = &(*sec)[name];
      }
    }
    if (target == nullptr) return Bad(where, "$ref '" + ref + "' is not '#', '#/$defs/NAME' or '#/definitions/NAME' of this schema");
    // A placeholder first, so a recursive reference finds it; filled in below.
    const int32_t slot = Add(GrammarNode{});
    refs_[ref] = slot;
    SKV_ASSIGN_OR_RETURN(int32_t body, Node(*target, ref, depth + 1));
    GrammarNode alias;
    alias.kind = GrammarNode::kAnyOf;
    alias.branches = {body};
    g_.nodes[slot] = alias;
    return slot;
  }

  Result<int32_t> Node(const json& s, const std::string& where, int depth) {
    if (depth > kMaxSchemaDepth) return Bad(where, "nested more than " + std::to_string(kMaxSchemaDepth) + " levels");
    if (g_.nodes.size() > kMaxNodes) return Bad(where, "the schema is too large (more than 4096 nodes)");
    if (s.is_boolean()) {
      if (s.get<bool>()) return JsonGrammar::kAnyNode;
      return Bad(where, "the schema 'false' accepts nothing");
    }
    if (!s.is_object()) return Bad(where, "a schema must be an object or a boolean, got " + std::string(s.type_name()));
    for (auto it = s.begin(); it != s.end(); ++it) {
      static const std::set<std::string> known = {
          "type",     "properties", "required", "additionalProperties", "items",  "minItems", "maxItems",
          "minLength", "maxLength", "enum",     "const",                "anyOf",  "oneOf",    "allOf",
          "$ref",     "nullable",   "format"};
      if (known.count(it.key()) == 0 && Annotations().count(it.key()) == 0)
        return Bad(where, "keyword '" + it.key() + "' is not supported");
    }
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) return Bad(where, "$ref must be a string");
      for (auto it = s.begin(); it != s.end(); ++it) {
        if (it.key() != "$ref" && Annotations().count(it.key()) == 0)
          return Bad(where, "keyword '" + it.key() + "' beside $ref is not supported");
      }
      return Ref(s["$ref"].get<std::string>(), where, depth);
    }
    if (s.contains("nullable") && s["nullable"].is_boolean() && s["nullable"].get<bool>()) {
      json inner = s;
      inner.erase("nullable");
      SKV_ASSIGN_OR_RETURN(int32_t body, Node(inner, where, depth + 1));
      GrammarNode n;
      n.kind = GrammarNode::kAnyOf;
      n.branches = {body, Literals({"null"})};
      return Add(std::move(n));
    }
    if (s.contains("allOf")) {
      const json& a = s["allOf"];
      if (!a.is_array() || a.size() != 1) return Bad(where + "/allOf", "only allOf with exactly one schema is supported");
      json merged = a[0];
      if (s.size() > 1) {
        for (auto it = s.begin(); it != s.end(); ++it)
          if (it.key() != "allOf" && Annotations().count(it.key()) == 0)
            return Bad(where, "keyword '" + it.key() + "' beside allOf is not supported");
      }
      return Node(merged, where + "/allOf/0", depth + 1);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      const json& a = s[key];
      if (!a.is_array() || a.empty()) return Bad(where + "/" + key, "must be a non-empty array of schemas");
      for (auto it = s.begin(); it != s.end(); ++it)
        if (it.key() != key && Annotations().count(it.key()) == 0)
          return Bad(where, std::string("keyword '") + it.key() + "' beside " + key + " is not supported");
      GrammarNode n;
      n.kind = GrammarNode::kAnyOf;
      for (size_t i = 0; i < a.size(); ++i) {
        SKV_ASSIGN_OR_RETURN(int32_t b, Node(a[i], where + "/" + key + "/" + std::to_string(i), depth + 1));
        n.branches.push_back(b);
      }
      return Add(std::move(n));
    }
    if (s.contains("const")) return Literals({s["const"].dump()});
    if (s.contains("enum")) {
      const json& e = s["enum"];
      if (!e.is_array() || e.empty()) return Bad(where + "/enum", "must be a non-empty array");
      if (e.size() > JsonGrammar::kMaxLiterals) return Bad(where + "/enum", "more than 64 values is not supported");
      std::vector<std::string> lits;
      for (const auto& v : e) lits.push_back(v.dump());
      return Literals(std::move(lits));
    }
    // type: one name, a list of names (a union), or absent (inferred from the keywords).
    std::vector<std::string> types;
    if (s.contains("type")) {
      const json& t = s["type"];
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else if (t.is_array() && !t.empty()) {
        for (const auto& x : t) {
          if (!x.is_string()) return Bad(where + "/type", "must hold type names");
          types.push_back(x.get<std::string>());
        }
      } else {
        return Bad(where + "/type", "must be a type name or a non-empty array of them");
      }
    } else if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
      types.push_back("array");
    } else if (s.contains("minLength") || s.contains("maxLength") || s.contains("format")) {
      types.push_back("string");
    } else {
      return JsonGrammar::kAnyNode;  // {} (with annotations only): any value
    }
    if (types.size() == 1) return Typed(s, types[0], where, depth);
    GrammarNode n;
    n.kind = GrammarNode::kAnyOf;
    for (const auto& t : types) {
      SKV_ASSIGN_OR_RETURN(int32_t b, Typed(s, t, where, depth));
      n.branches.push_back(b);
    }
    return Add(std::move(n));
  }

  int32_t Literals(std::vector<std::string> lits) {
    GrammarNode n;
    n.kind = GrammarNode::kLiterals;
    n.literals = std::move(lits);
    return Add(std::move(n));
  }

  static Result<int32_t> Count(const json& s, const char* key, const std::string& where, int32_t dflt) {
    auto it = s.find(key);
    if (it == s.end() || it->is_null()) return dflt;
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > (1 << 20))
      return Bad(where + "/" + key, "must be an integer in [0, 1048576]");
    return static_cast<int32_t>(it->get<int64_t>());
  }

  Result<int32_t> Typed(const json& s, const std::string& type, const std::string& where, int depth) {
    if (type == "null") return Literals({"null"});
    if (type == "boolean") return Literals({"true", "false"});
    GrammarNode n;
    if (type == "number" || type == "integer") {
      n.kind = type == "number" ? GrammarNode::kNumber : GrammarNode::kInteger;
      return Add(std::move(n));
    }
    if (type == "string") {
      auto f = s.find("format");
      if (f != s.end()) {
        if (!f->is_string()) return Bad(where + "/format", "must be a string");
        if (*f != "uuid")
          return Bad(where + "/format", "string format '" + f->get<std::string>() + "' is not supported (only 'uuid')");
        n.kind = GrammarNode::kTemplate;
        n.literals = {"\"HHHHHHHH-HHHH-HHHH-HHHH-HHHHHHHHHHHH\""};
        return Add(std::move(n));
      }
      n.kind = GrammarNode::kString;
      SKV_ASSIGN_OR_RETURN(n.min_count, Count(s, "minLength", where, 0));
      SKV_ASSIGN_OR_RETURN(n.max_count, Count(s, "maxLength", where, -1));
      if (n.max_count >= 0 && n.max_count < n.min_count) return Bad(where, "maxLength is below minLength");
      return Add(std::move(n));
    }
    if (type == "array") {
      n.kind = GrammarNode::kArray;
      SKV_ASSIGN_OR_RETURN(n.min_count, Count(s, "minItems", where, 0));
      SKV_ASSIGN_OR_RETURN(n.max_count, Count(s, "maxItems", where, -1));
      if (n.max_count >= 0 && n.max_count < n.min_count) return Bad(where, "maxItems is below minItems");
      n.items = JsonGrammar::kAnyNode;
      if (s.contains("items")) {
        if (s["items"].is_array()) return Bad(where + "/items", "tuple items (an array) are not supported");
        SKV_ASSIGN_OR_RETURN(n.items, Node(s["items"], where + "/items", depth + 1));
      }
      return Add(std::move(n));
    }
    if (type == "object") {
      n.kind = GrammarNode::kObject;
      auto props = s.find("properties");
      if (props == s.end() || props->is_null() || props->empty()) {
        // No properties: any object (additionalProperties false: only {}).
        auto ap = s.find("additionalProperties");
        const bool closed = ap != s.end() && ap->is_boolean() && !ap->get<bool>();
        n.generic = !closed;
        if (s.contains("required") && !s["required"].empty())
          return Bad(where + "/required", "required properties without 'properties' are not supported");
        return Add(std::move(n));
      }
      if (!props->is_object()) return Bad(where + "/properties", "must be an object");
      if (props->size() > JsonGrammar::kMaxProperties) return Bad(where + "/properties", "more than 64 properties is not supported");
      std::set<std::string> required;
      if (s.contains("required")) {
        if (!s["required"].is_array()) return Bad(where + "/required", "must be an array of names");
        for (const auto& r : s["required"]) {
          if (!r.is_string()) return Bad(where + "/required", "must be an array of names");
          if (!props->contains(r.get<std::string>()))
            return Bad(where + "/required", "'" + r.get<std::string>() + "' is required but not in properties");
          required.insert(r.get<std::string>());
        }
      }
      auto ap = s.find("additionalProperties");
      if (ap != s.end() && !ap->is_boolean() && !ap->is_object()) return Bad(where + "/additionalProperties", "must be a boolean or a schema");
      // The schema document's order (ordered_json): what clients and models expect.
      std::vector<std::pair<std::string, const json*>> ordered;
      for (auto it = props->begin(); it != props->end(); ++it) ordered.emplace_back(it.key(), &it.value());
      const int32_t self = Add(GrammarNode{});
      for (size_t i = 0; i < ordered.size(); ++i) {
        SKV_ASSIGN_OR_RETURN(int32_t v, Node(*ordered[i].second, where + "/properties/" + ordered[i].first, depth + 1));
        n.keys.push_back(json(ordered[i].first).dump());
        n.key_nodes.push_back(v);
        if (required.count(ordered[i].first) > 0) n.required_mask |= uint64_t{1} << i;
      }
      g_.nodes[self] = std::move(n);
      return self;
    }
    return Bad(where + "/type", "unknown type '" + type + "'");
  }

  const json& root_;
  JsonGrammar g_;
  std::map<std::string, int32_t> refs_;
};

}  // namespace

JsonGrammar JsonGrammar::AnyJson(bool object_only) {
  JsonGrammar g;
  g.nodes.resize(2);
  g.nodes[kAnyNode].kind = GrammarNode::kAny;
  g.nodes[kAnyStringNode].kind = GrammarNode::kString;
  if (object_only) {
    GrammarNode o;
    o.kind = GrammarNode::kObject;
    o.generic = true;
    g.nodes.push_back(o);
    g.root = 2;
  }
  return g;
}

Result<JsonGrammar> JsonGrammar::Compile(const nlohmann::ordered_json& schema) { return Compiler(schema).Run(); }

}  // namespace swarmkv
