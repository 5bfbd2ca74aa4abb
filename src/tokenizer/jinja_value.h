// Jinja values: the dynamic values a template computes with, modelled on the Python objects
// jinja2 sees (None, bool, int, float, str, list, tuple, dict, jinja2's Undefined, a namespace(),
// callables, and single-use iterators that filters such as selectattr return), with Python's
// str(), repr(), truthiness, equality and ordering, and json.dumps as transformers' tojson calls it.
//
// Invariant: lists, tuples and dicts are immutable once built (the sandbox refuses mutating
// methods), so sharing them between values is safe; only a namespace's attributes change, and
// a namespace is never shared between renders.
// Thread-safety: values belong to one render (one thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace swarmkv::jinja {

class Value;
class Interp;
using List = std::vector<Value>;

struct Dict {
  std::vector<std::pair<Value, Value>> items;  // insertion order, unique keys
  const Value* Find(const Value& key) const;
  const Value* Find(std::string_view key) const;
  void Set(Value key, Value value);
};

struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  int line = 0;
};

using NativeFn = std::function<Result<Value>(Interp&, CallArgs&)>;

struct Callable {
  std::string name;
  NativeFn fn;
};

// A single-use iterator (a Python generator): truthy even when empty, no len(), and a second
// pass sees nothing.
struct Iterator {
  List items;
  bool consumed = false;
  std::string type_name = "generator";
};

enum class ValueKind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kTuple, kDict, kNamespace,
                       kCallable, kIterator };

class Value {
 public:
  Value() = default;  // undefined
  static Value Undefined(std::string hint = {}) {
    Value v;
    v.str_ = std::make_shared<std::string>(std::move(hint));
    return v;
  }
  static Value None() { return Value(ValueKind::kNone); }
  static Value Bool(bool b) {
    Value v(ValueKind::kBool);
    v.i_ = b;
    return v;
  }
  static Value Int(int64_t i) {
    Value v(ValueKind::kInt);
    v.i_ = i;
    return v;
  }
  static Value Float(double d) {
    Value v(ValueKind::kFloat);
    v.d_ = d;
    return v;
  }
  static Value String(std::string s) {
    Value v(ValueKind::kString);
    v.str_ = std::make_shared<std::string>(std::move(s));
    return v;
  }
  // A markupsafe.Markup string (from |safe or |escape): `+` with a plain str escapes the str.
  static Value SafeString(std::string s) {
    Value v = String(std::move(s));
    v.safe_ = true;
    return v;
  }
  static Value MakeList(List l, ValueKind kind = ValueKind::kList) {
    Value v(kind);
    v.list_ = std::make_shared<List>(std::move(l));
    return v;
  }
  static Value MakeTuple(List l) { return MakeList(std::move(l), ValueKind::kTuple); }
  static Value MakeDict(Dict d) {
    Value v(ValueKind::kDict);
    v.dict_ = std::make_shared<Dict>(std::move(d));
    return v;
  }
  static Value MakeNamespace(Dict d) {
    Value v(ValueKind::kNamespace);
    v.dict_ = std::make_shared<Dict>(std::move(d));
    return v;
  }
  static Value MakeCallable(std::string name, NativeFn fn) {
    Value v(ValueKind::kCallable);
    v.fn_ = std::make_shared<Callable>(Callable{std::move(name), std::move(fn)});
    return v;
  }
  static Value MakeIterator(List items, std::string type_name = "generator") {
    Value v(ValueKind::kIterator);
    v.iter_ = std::make_shared<Iterator>(Iterator{std::move(items), false, std::move(type_name)});
    return v;
  }

  ValueKind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
  bool is_none() const { return kind_ == ValueKind::kNone; }
  bool is_bool() const { return kind_ == ValueKind::kBool; }
  bool is_int() const { return kind_ == ValueKind::kInt; }  // not bool
  bool is_float() const { return kind_ == ValueKind::kFloat; }
  bool is_number() const { return kind_ == ValueKind::kInt || kind_ == ValueKind::kFloat || kind_ == ValueKind::kBool; }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_list() const { return kind_ == ValueKind::kList; }
  bool is_tuple() const { return kind_ == ValueKind::kTuple; }
  bool is_sequence_like() const { return kind_ == ValueKind::kList || kind_ == ValueKind::kTuple; }
  bool is_dict() const { return kind_ == ValueKind::kDict; }
  bool is_namespace() const { return kind_ == ValueKind::kNamespace; }
  bool is_callable() const { return kind_ == ValueKind::kCallable; }
  bool is_iterator() const { return kind_ == ValueKind::kIterator; }
  bool is_safe() const { return safe_; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }  // int or bool
  double as_double() const { return kind_ == ValueKind::kFloat ? d_ : static_cast<double>(i_); }
  const std::string& str() const { return *str_; }  // string; for undefined: the hint
  const List& list() const { return *list_; }       // list or tuple
  const Dict& dict() const { return *dict_; }       // dict or namespace
  Dict& mutable_namespace() const { return *dict_; }
  const Callable& callable() const { return *fn_; }
  Iterator& iterator() const { return *iter_; }
  const std::string& undefined_hint() const { return *str_; }

  // Python truthiness.
  bool Truthy() const;
  // Python type name (for messages): 'str', 'int', 'dict', ...
  std::string TypeName() const;

 private:
  explicit Value(ValueKind k) : kind_(k) {}

  ValueKind kind_ = ValueKind::kUndefined;
  bool safe_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<std::string> str_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Callable> fn_;
  std::shared_ptr<Iterator> iter_;
};

// Python str(v) (undefined prints as ""). Error past the depth bound (self-referencing namespace).
Result<std::string> ToStr(const Value& v);
// Python repr(v).
Result<std::string> Repr(const Value& v);
// Python repr of a float ("1.0", "1e-05", "inf").
std::string FloatRepr(double d);
// Python ==.
bool Equal(const Value& a, const Value& b);
// Python <: -1/0/1 ordering, or an error for incomparable types.
Result<int> Compare(const Value& a, const Value& b);

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::string indent;  // used when has_indent
  bool has_indent = false;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
// json.dumps(v, ...). Errors for values JSON cannot hold (undefined, callables, namespaces).
Result<std::string> JsonDumps(const Value& v, const JsonDumpOptions& opts);

// Template context from JSON (objects keep their key order). Error past `max_depth`.
Result<Value> FromJson(const nlohmann::ordered_json& j, int max_depth);

// markupsafe.escape of text: & < > " ' as HTML entities.
std::string HtmlEscape(std::string_view s);

// Number of Unicode code points of UTF-8 text (Python len of a str).
size_t Utf8Length(std::string_view s);
// Splits UTF-8 text into code points (each a UTF-8 substring).
std::vector<std::string> Utf8Chars(std::string_view s);
// Byte offsets of the code points of s, then s.size(): code point i is [out[i], out[i+1]).
// One allocation however long s is (indexing and slicing must not make a string per character).
std::vector<size_t> Utf8Offsets(std::string_view s);

// The code point at s[*i] (UTF-8), advancing *i past it; a byte that starts no complete sequence
// is returned as itself and *i advances by one.
uint32_t DecodeUtf8(std::string_view s, size_t* i);

}  // namespace swarmkv::jinja
