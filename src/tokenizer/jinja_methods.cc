// Jinja builtins: the methods of str, list and dict values (`s.strip()`, `d.get(k)`), Python's
// semantics; the immutable sandbox refuses every method that would modify a template's inputs.
#include <algorithm>

#include <unicode/uchar.h>

#include "tokenizer/jinja_builtin_args.h"
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_interp.h"
#include "tokenizer/jinja_pystr.h"

namespace swarmkv::jinja {

using namespace internal;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

constexpr std::string_view kStrMethods[] = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "replace", "upper", "lower",
    "title", "capitalize", "find", "rfind", "index", "rindex", "count", "isdigit", "isalpha", "isalnum",
    "isspace", "islower", "isupper", "isnumeric", "isdecimal", "join", "format", "splitlines", "removeprefix",
    "removesuffix", "casefold", "swapcase", "zfill", "center", "ljust", "rjust", "partition", "rpartition",
};
constexpr std::string_view kListMethods[] = {"count", "index", "copy", "append", "extend", "insert", "pop",
                                             "remove", "reverse", "sort", "clear"};
constexpr std::string_view kDictMethods[] = {"get", "items", "keys", "values", "copy", "pop", "popitem",
                                             "setdefault", "update", "clear", "fromkeys"};
constexpr std::string_view kUnsafe[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear",
                                        "popitem", "setdefault", "update", "fromkeys"};

Result<Value> StrMethod(Interp& in, const std::string& s, const std::string& m, CallArgs& ca) {
  Args a(m, ca);
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    Value chars = a.Get(0, "chars", Value::None());
    SKV_RETURN_IF_ERROR(a.Done(1));
    if (!chars.is_none()) SKV_RETURN_IF_ERROR(RequireStr(chars, m + " arg"));
    return Value::String(Strip(s, chars, m != "rstrip", m != "lstrip"));
  }
  if (m == "split" || m == "rsplit") {
    Value sep = a.Get(0, "sep", Value::None());
    Value maxsplit = a.Get(1, "maxsplit", Value::Int(-1));
    SKV_RETURN_IF_ERROR(a.Done(2));
    if (!sep.is_none()) {
      SKV_RETURN_IF_ERROR(RequireStr(sep, "separator"));
      if (sep.str().empty()) return InvalidArgumentError("empty separator");
    }
    if (!maxsplit.is_int()) return TypeError("maxsplit must be an int");
    List parts = Split(s, sep, maxsplit.as_int(), m == "rsplit");
    SKV_RETURN_IF_ERROR(in.CheckSize(parts.size()));
    return Value::MakeList(std::move(parts));
  }
  if (m == "startswith" || m == "endswith") {
    Value p = a.Get(0, "prefix");
    Value start = a.Get(1, "start", Value::None());
    Value end = a.Get(2, "end", Value::None());
    SKV_RETURN_IF_ERROR(a.Done(3));
    std::string sub = s;
    if (!start.is_none() || !end.is_none()) {
      std::vector<std::string> cs = Utf8Chars(s);
      int64_t n = static_cast<int64_t>(cs.size());
      int64_t b = start.is_int() ? start.as_int() : 0, e = end.is_int() ? end.as_int() : n;
      if (b < 0) b = std::max<int64_t>(0, b + n);
      if (e < 0) e = std::max<int64_t>(0, e + n);
      b = std::min(b, n);
      e = std::min(e, n);
      sub.clear();
      for (int64_t i = b; i < e; ++i) sub += cs[static_cast<size_t>(i)];
      if (b > e) return Value::Bool(false);
    }
    std::vector<Value> cands;
    if (p.is_tuple()) cands = p.list();
    else if (p.is_string()) cands.push_back(p);
    else return TypeError(m + " first arg must be str or a tuple of str, not " + p.TypeName());
    for (const Value& c : cands) {
      SKV_RETURN_IF_ERROR(RequireStr(c, m + " arg"));
      if (m == "startswith" ? sub.starts_with(c.str()) : sub.ends_with(c.str())) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  if (m == "replace") {
    Value old = a.Get(0, "old"), repl = a.Get(1, "new"), count = a.Get(2, "count", Value::Int(-1));
    SKV_RETURN_IF_ERROR(a.Done(3));
    SKV_RETURN_IF_ERROR(RequireStr(old, "replace arg 1"));
    SKV_RETURN_IF_ERROR(RequireStr(repl, "replace arg 2"));
    if (!old.str().empty() && repl.str().size() > old.str().size()) {
      SKV_RETURN_IF_ERROR(in.CheckSize(s.size() / old.str().size() * repl.str().size() + s.size()));
    }
    if (old.str().empty()) SKV_RETURN_IF_ERROR(in.CheckSize((Utf8Length(s) + 1) * repl.str().size() + s.size()));
    return Value::String(Replace(s, old.str(), repl.str(), count.is_int() ? count.as_int() : -1));
  }
  if (m == "upper" || m == "lower" || m == "casefold") {
    SKV_RETURN_IF_ERROR(a.Done(0));
    return Value::String(m == "upper" ? Upper(s) : Lower(s));
  }
  if (m == "title") {
    SKV_RETURN_IF_ERROR(a.Done(0));
    return Value::String(PyTitle(s));
  }
  if (m == "capitalize") {
    SKV_RETURN_IF_ERROR(a.Done(0));
    return Value::String(Capitalize(s));
  }
  if (m == "swapcase") {
    SKV_RETURN_IF_ERROR(a.Done(0));
    std::string out;
    for (const std::string& c : Utf8Chars(s)) {
      size_t i = 0;
      uint32_t cp = DecodeUtf8(c, &i);
      out += u_isUUppercase(cp) ? Lower(c) : u_isULowercase(cp) ? Upper(c) : c;
    }
    return Value::String(out);
  }
  if (m == "find" || m == "rfind" || m == "index" || m == "rindex" || m == "count") {
    Value sub = a.Get(0, "sub");
    SKV_RETURN_IF_ERROR(a.Done(1));
    SKV_RETURN_IF_ERROR(RequireStr(sub, m + " arg"));
    const std::string& t = sub.str();
    if (m == "count") {
      if (t.empty()) return Value::Int(static_cast<int64_t>(Utf8Length(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(t); p != std::string::npos; p = s.find(t, p + t.size())) ++n;
      return Value::Int(n);
    }
    size_t p = (m == "find" || m == "index") ? s.find(t) : s.rfind(t);
    if (p == std::string::npos) {
      if (m == "index" || m == "rindex") return InvalidArgumentError("substring not found");
      return Value::Int(-1);
    }
    return Value::Int(static_cast<int64_t>(Utf8Length(std::string_view(s).substr(0, p))));
  }
  if (m.starts_with("is")) {
    SKV_RETURN_IF_ERROR(a.Done(0));
    if (m == "isdigit" || m == "isdecimal" || m == "isnumeric") {
      return Value::Bool(AllCp(s, [](uint32_t c) { return u_isdigit(static_cast<UChar32>(c)) != 0; }));
    }
    if (m == "isalpha") return Value::Bool(AllCp(s, IsAlphaCp));
    if (m == "isalnum") {
      return Value::Bool(AllCp(s, [](uint32_t c) { return u_isalnum(static_cast<UChar32>(c)) != 0; }));
    }
    if (m == "isspace") return Value::Bool(AllCp(s, PySpace));
    if (m == "islower") return Value::Bool(CaseTest(s, false));
    if (m == "isupper") return Value::Bool(CaseTest(s, true));
  }
  if (m == "join") {
    Value it = a.Get(0, "iterable");
    SKV_RETURN_IF_ERROR(a.Done(1));
    SKV_ASSIGN_OR_RETURN(List items, in.Iterate(it));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        return TypeError("sequence item " + std::to_string(i) + ": expected str instance, " + items[i].TypeName() + " found");
      }
      if (i) out += s;
      out += items[i].str();
      SKV_RETURN_IF_ERROR(in.CheckSize(out.size()));
    }
    return Value::String(std::move(out));
  }
  if (m == "format") {
    SKV_ASSIGN_OR_RETURN(std::string out, PyFormat(in, s, ca));
    return Value::String(std::move(out));
  }
  if (m == "splitlines") {
    SKV_RETURN_IF_ERROR(a.Done(0));
    List out;
    for (std::string& l : SplitLines(s)) out.push_back(Value::String(std::move(l)));
    return Value::MakeList(std::move(out));
  }
  if (m == "removeprefix" || m == "removesuffix") {
    Value p = a.Get(0, "prefix");
    SKV_RETURN_IF_ERROR(a.Done(1));
    SKV_RETURN_IF_ERROR(RequireStr(p, m + " arg"));
    if (m == "removeprefix" && s.starts_with(p.str())) return Value::String(s.substr(p.str().size()));
    if (m == "removesuffix" && !p.str().empty() && s.ends_with(p.str())) {
      return Value::String(s.substr(0, s.size() - p.str().size()));
    }
    return Value::String(s);
  }
  if (m == "partition" || m == "rpartition") {
    Value sep = a.Get(0, "sep");
    SKV_RETURN_IF_ERROR(a.Done(1));
    SKV_RETURN_IF_ERROR(RequireStr(sep, m + " arg"));
    if (sep.str().empty()) return InvalidArgumentError("empty separator");
    size_t p = m == "partition" ? s.find(sep.str()) : s.rfind(sep.str());
    if (p == std::string::npos) {
      return m == "partition" ? Value::MakeTuple({Value::String(s), Value::String(""), Value::String("")})
                              : Value::MakeTuple({Value::String(""), Value::String(""), Value::String(s)});
    }
    return Value::MakeTuple({Value::String(s.substr(0, p)), sep, Value::String(s.substr(p + sep.str().size()))});
  }
  if (m == "zfill" || m == "center" || m == "ljust" || m == "rjust") {
    Value width = a.Get(0, "width");
    Value fill = a.Get(1, "fillchar", Value::String(" "));
    SKV_RETURN_IF_ERROR(a.Done(m == "zfill" ? 1 : 2));
    if (!width.is_int()) return TypeError(m + " needs an integer width");
    int64_t w = std::min<int64_t>(width.as_int(), 1 << 20);
    int64_t len = static_cast<int64_t>(Utf8Length(s));
    if (w <= len) return Value::String(s);
    std::string f = fill.is_string() ? fill.str() : " ";
    int64_t pad = w - len;
    auto rep = [&](int64_t n) {
      std::string r;
      for (int64_t i = 0; i < n; ++i) r += f;
      return r;
    };
    if (m == "zfill") {
      size_t sign = !s.empty() && (s[0] == '+' || s[0] == '-') ? 1 : 0;
      return Value::String(s.substr(0, sign) + std::string(static_cast<size_t>(pad), '0') + s.substr(sign));
    }
    if (m == "ljust") return Value::String(s + rep(pad));
    if (m == "rjust") return Value::String(rep(pad) + s);
    int64_t left = pad / 2 + (pad & w & 1);
    return Value::String(rep(left) + s + rep(pad - left));
  }
  return InvalidArgumentError("str method '" + m + "' is not supported");
}

}  // namespace

bool HasMethod(const Value& obj, const std::string& name) {
  if (obj.is_string()) return In(kStrMethods, name);
  if (obj.is_sequence_like()) return obj.is_list() ? In(kListMethods, name) : (name == "count" || name == "index");
  if (obj.is_dict()) return In(kDictMethods, name);
  return false;
}

Result<Value> CallMethod(Interp& in, const Value& obj, const std::string& name, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(obj.is_string() ? in.Charge(obj.str().size()) : in.Step());
  if (In(kUnsafe, name)) {
    return InvalidArgumentError("access to attribute '" + name + "' of '" + obj.TypeName() +
                                "' object is unsafe (the template may not modify its inputs)");
  }
  if (obj.is_string()) return StrMethod(in, obj.str(), name, ca);
  Args a(name, ca);
  if (obj.is_sequence_like()) {
    if (name == "copy") {
      SKV_RETURN_IF_ERROR(a.Done(0));
      return Value::MakeList(obj.list());
    }
    Value x = a.Get(0, "value");
    SKV_RETURN_IF_ERROR(a.Done(1));
    const List& l = obj.list();
    if (name == "count") return Value::Int(std::count_if(l.begin(), l.end(), [&](const Value& e) { return Equal(e, x); }));
    for (size_t i = 0; i < l.size(); ++i) {
      if (Equal(l[i], x)) return Value::Int(static_cast<int64_t>(i));
    }
    return InvalidArgumentError("value is not in list");
  }
  if (obj.is_dict()) {
    const Dict& d = obj.dict();
    if (name == "get") {
      Value key = a.Get(0, "key");
      Value def = a.Get(1, "default", Value::None());
      SKV_RETURN_IF_ERROR(a.Done(2));
      const Value* v = d.Find(key);
      return v != nullptr ? *v : def;
    }
    SKV_RETURN_IF_ERROR(a.Done(0));
    if (name == "copy") return obj;
    List out;
    out.reserve(d.items.size());
    for (const auto& [k, v] : d.items) {
      if (name == "items") out.push_back(Value::MakeTuple({k, v}));
      else out.push_back(name == "keys" ? k : v);
    }
    return Value::MakeList(std::move(out));
  }
  return InvalidArgumentError("'" + obj.TypeName() + "' object has no method '" + name + "'");
}

}  // namespace swarmkv::jinja
