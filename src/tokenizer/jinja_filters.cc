// Jinja builtins: the filters (`x | name(args)`), with jinja2's semantics as transformers
// configures it (tojson = json.dumps(ensure_ascii=False, no key sorting)); the table kFilters lists
// every jinja2 filter, those chat templates do not use as an Unimplemented error.
#include <algorithm>
#include <cmath>

#include <unicode/uchar.h>

#include "tokenizer/jinja_builtin_args.h"
#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_interp.h"
#include "tokenizer/jinja_pystr.h"

namespace swarmkv::jinja {

using namespace internal;  // NOLINT(google-build-using-namespace): this module's own helpers

namespace {

// jinja2's title filter: words start after '-', white space, '(', '{', '[' or '<'.
std::string JinjaTitle(const std::string& s) {
  std::string out;
  std::vector<std::string> cs = Utf8Chars(s);
  bool start = true;
  for (size_t k = 0; k < cs.size(); ++k) {
    size_t i = 0;
    uint32_t cp = DecodeUtf8(cs[k], &i);
    bool sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || PySpace(cp);
    if (sep) {
      out += cs[k];
      start = true;
    } else {
      out += start ? Upper(cs[k]) : Lower(cs[k]);
      start = false;
    }
  }
  return out;
}

// getattr along a dotted path ("function.name"), integers as indexes (jinja2's make_attrgetter).
Result<Value> AttrPath(Interp& in, const Value& item, const std::string& path) {
  Value v = item;
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) {
      SKV_ASSIGN_OR_RETURN(v, in.GetItem(v, Value::Int(std::stoll(part))));
    } else {
      SKV_ASSIGN_OR_RETURN(v, in.GetItem(v, Value::String(part)));
    }
    if (dot == std::string::npos) return v;
    pos = dot + 1;
  }
}

Value SortKey(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::String(Lower(v.str()));
  return v;
}

Result<List> SortList(List items, const std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> idx(items.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  Status err;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    if (!err.ok()) return false;
    Result<int> c = Compare(keys[a], keys[b]);
    if (!c.ok()) {
      err = c.status();
      return false;
    }
    return reverse ? *c > 0 : *c < 0;
  });
  SKV_RETURN_IF_ERROR(err);
  List out;
  out.reserve(items.size());
  for (size_t i : idx) out.push_back(std::move(items[i]));
  return out;
}

Result<int64_t> Len(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined: return 0;
    case ValueKind::kString: return static_cast<int64_t>(Utf8Length(v.str()));
    case ValueKind::kList:
    case ValueKind::kTuple: return static_cast<int64_t>(v.list().size());
    case ValueKind::kDict: return static_cast<int64_t>(v.dict().items.size());
    default: return TypeError("object of type '" + v.TypeName() + "' has no len()");
  }
}

using FilterFn = Result<Value> (*)(Interp&, const Value&, CallArgs&);

Result<Value> FTojson(Interp& in, const Value& v, CallArgs& ca) {
  Args a("tojson", ca);
  JsonDumpOptions o;
  Value ea = a.Get(0, "ensure_ascii", Value::Bool(false));
  Value indent = a.Get(1, "indent", Value::None());
  Value seps = a.Get(2, "separators", Value::None());
  Value sort = a.Get(3, "sort_keys", Value::Bool(false));
  SKV_RETURN_IF_ERROR(a.Done(4));
  o.ensure_ascii = ea.Truthy();
  o.sort_keys = sort.Truthy();
  if (!indent.is_none()) {
    o.has_indent = true;
    if (indent.is_int()) o.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(indent.as_int(), 0, 64)), ' ');
    else if (indent.is_string()) o.indent = indent.str();
    else return TypeError("tojson: indent must be an int or a str");
    o.item_separator = ",";
  }
  if (!seps.is_none()) {
    if (!seps.is_sequence_like() || seps.list().size() != 2 || !seps.list()[0].is_string() ||
        !seps.list()[1].is_string()) {
      return TypeError("tojson: separators must be a pair of strings");
    }
    o.item_separator = seps.list()[0].str();
    o.key_separator = seps.list()[1].str();
  }
  SKV_ASSIGN_OR_RETURN(std::string s, JsonDumps(v, o));
  SKV_RETURN_IF_ERROR(in.CheckSize(s.size()));
  return Value::String(std::move(s));
}

Result<Value> FLength(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("length", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(int64_t n, Len(v));
  return Value::Int(n);
}

Result<Value> FTrim(Interp&, const Value& v, CallArgs& ca) {
  Args a("trim", ca);
  Value chars = a.Get(0, "chars", Value::None());
  SKV_RETURN_IF_ERROR(a.Done(1));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  return Value::String(Strip(s, chars, true, true));
}

Result<Value> FDefault(Interp&, const Value& v, CallArgs& ca) {
  Args a("default", ca);
  Value def = a.Get(0, "default_value", Value::String(""));
  Value boolean = a.Get(1, "boolean", Value::Bool(false));
  SKV_RETURN_IF_ERROR(a.Done(2));
  if (v.is_undefined() || (boolean.Truthy() && !v.Truthy())) return def;
  return v;
}

Result<Value> FString(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("string", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  return Value::String(std::move(s));
}

Result<Value> FJoin(Interp& in, const Value& v, CallArgs& ca) {
  Args a("join", ca);
  Value sep = a.Get(0, "d", Value::String(""));
  Value attr = a.Get(1, "attribute", Value::None());
  SKV_RETURN_IF_ERROR(a.Done(2));
  SKV_ASSIGN_OR_RETURN(List items, in.Iterate(v));
  SKV_ASSIGN_OR_RETURN(std::string d, Str(sep));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    Value x = items[i];
    if (!attr.is_none()) {
      SKV_ASSIGN_OR_RETURN(std::string path, Str(attr));
      SKV_ASSIGN_OR_RETURN(x, AttrPath(in, x, path));
    }
    if (i) out += d;
    SKV_ASSIGN_OR_RETURN(std::string s, Str(x));
    out += s;
    SKV_RETURN_IF_ERROR(in.CheckSize(out.size()));
  }
  return Value::String(std::move(out));
}

Result<Value> FItems(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("items", ca).Done(0));
  if (v.is_undefined()) return Value::MakeIterator({});
  if (!v.is_dict()) return TypeError("Can only get item pairs from a mapping.");
  List l;
  for (const auto& [k, x] : v.dict().items) l.push_back(Value::MakeTuple({k, x}));
  return Value::MakeIterator(std::move(l));
}

Result<Value> FUpper(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("upper", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  return Value::String(Upper(s));
}

Result<Value> FLower(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("lower", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  return Value::String(Lower(s));
}

Result<Value> FCapitalize(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("capitalize", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  return Value::String(Capitalize(s));
}

Result<Value> FTitle(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("title", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  return Value::String(JinjaTitle(s));
}

Result<Value> FSafe(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("safe", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  return Value::SafeString(std::move(s));
}

Result<Value> FEscape(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("escape", ca).Done(0));
  if (v.is_safe()) return v;
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  return Value::SafeString(HtmlEscape(s));
}

Result<Value> FList(Interp& in, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("list", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(List l, in.Iterate(v));
  return Value::MakeList(std::move(l));
}

Result<Value> FFirst(Interp& in, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("first", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(List l, in.Iterate(v));
  if (l.empty()) return Value::Undefined("No first item, sequence was empty.");
  return l.front();
}

Result<Value> FLast(Interp& in, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("last", ca).Done(0));
  if (v.is_iterator()) return TypeError("'" + v.TypeName() + "' object is not reversible");
  if (v.is_dict()) return TypeError("'dict' object is not reversible");
  SKV_ASSIGN_OR_RETURN(List l, in.Iterate(v));
  if (l.empty()) return Value::Undefined("No last item, sequence was empty.");
  return l.back();
}

Result<Value> FReverse(Interp& in, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("reverse", ca).Done(0));
  if (v.is_string()) {
    std::vector<std::string> cs = Utf8Chars(v.str());
    std::string out;
    for (auto it = cs.rbegin(); it != cs.rend(); ++it) out += *it;
    return Value::String(std::move(out));
  }
  SKV_ASSIGN_OR_RETURN(List l, in.Iterate(v));
  std::reverse(l.begin(), l.end());
  if (v.is_sequence_like()) return Value::MakeIterator(std::move(l), v.is_list() ? "list_reverseiterator" : "reversed");
  return Value::MakeList(std::move(l));
}

Result<Value> FInt(Interp&, const Value& v, CallArgs& ca) {
  Args a("int", ca);
  Value def = a.Get(0, "default", Value::Int(0));
  Value base = a.Get(1, "base", Value::Int(10));
  SKV_RETURN_IF_ERROR(a.Done(2));
  if (v.is_undefined()) return InvalidArgumentError(v.undefined_hint());
  if (v.is_int() || v.is_bool()) return Value::Int(v.as_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_double()) || std::fabs(v.as_double()) >= 9.2e18) return def;
    return Value::Int(static_cast<int64_t>(std::trunc(v.as_double())));
  }
  if (v.is_string()) {
    int64_t i;
    if (base.as_int() == 10 && ParsePyInt(v.str(), &i)) return Value::Int(i);
    double d;
    if (ParsePyFloat(v.str(), &d) && std::isfinite(d) && std::fabs(d) < 9.2e18) {
      return Value::Int(static_cast<int64_t>(std::trunc(d)));
    }
  }
  return def;
}

Result<Value> FFloat(Interp&, const Value& v, CallArgs& ca) {
  Args a("float", ca);
  Value def = a.Get(0, "default", Value::Float(0.0));
  SKV_RETURN_IF_ERROR(a.Done(1));
  if (v.is_undefined()) return InvalidArgumentError(v.undefined_hint());
  if (v.is_number()) return Value::Float(v.as_double());
  double d;
  if (v.is_string() && ParsePyFloat(v.str(), &d)) return Value::Float(d);
  return def;
}

Result<Value> FAbs(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("abs", ca).Done(0));
  if (v.is_float()) return Value::Float(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) return InvalidArgumentError("integer overflow");
    return Value::Int(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  return TypeError("bad operand type for abs(): '" + v.TypeName() + "'");
}

Result<Value> FRound(Interp&, const Value& v, CallArgs& ca) {
  Args a("round", ca);
  Value prec = a.Get(0, "precision", Value::Int(0));
  Value method = a.Get(1, "method", Value::String("common"));
  SKV_RETURN_IF_ERROR(a.Done(2));
  if (!v.is_number()) return TypeError("type " + v.TypeName() + " doesn't define __round__ method");
  if (!prec.is_int()) return TypeError("round: precision must be an int");
  std::string m = method.is_string() ? method.str() : "";
  if (m == "common") {
    if (!v.is_float()) return Value::Int(v.as_int());
    return Value::Float(PyRound(v.as_double(), prec.as_int()));
  }
  if (m != "ceil" && m != "floor") return InvalidArgumentError("method must be 'common', 'ceil' or 'floor'");
  double p = std::pow(10.0, static_cast<double>(prec.as_int()));
  double x = v.as_double() * p;
  return Value::Float((m == "ceil" ? std::ceil(x) : std::floor(x)) / p);
}

Result<Value> FReplace(Interp& in, const Value& v, CallArgs& ca) {
  Args a("replace", ca);
  Value old = a.Get(0, "old"), repl = a.Get(1, "new"), count = a.Get(2, "count", Value::None());
  SKV_RETURN_IF_ERROR(a.Done(3));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  SKV_ASSIGN_OR_RETURN(std::string o, Str(old));
  SKV_ASSIGN_OR_RETURN(std::string r, Str(repl));
  int64_t n = count.is_int() ? count.as_int() : -1;
  if (!o.empty() && !r.empty() && r.size() > o.size()) {
    SKV_RETURN_IF_ERROR(in.CheckSize(s.size() / o.size() * r.size() + s.size()));
  }
  if (o.empty()) SKV_RETURN_IF_ERROR(in.CheckSize((Utf8Length(s) + 1) * r.size() + s.size()));
  return Value::String(Replace(s, o, r, n));
}

Result<Value> FIndent(Interp& in, const Value& v, CallArgs& ca) {
  Args a("indent", ca);
  Value width = a.Get(0, "width", Value::Int(4));
  Value first = a.Get(1, "first", Value::Bool(false));
  Value blank = a.Get(2, "blank", Value::Bool(false));
  SKV_RETURN_IF_ERROR(a.Done(3));
  std::string ind;
  if (width.is_string()) ind = width.str();
  else if (width.is_int()) ind = std::string(static_cast<size_t>(std::clamp<int64_t>(width.as_int(), 0, 1024)), ' ');
  else return TypeError("indent: width must be an int or a str");
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  s += "\n";
  std::vector<std::string> lines = SplitLines(s);
  std::string rv;
  if (blank.Truthy()) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + ind;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? std::string() : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += ind;
      rv += lines[i];
    }
  }
  if (first.Truthy()) rv = ind + rv;
  SKV_RETURN_IF_ERROR(in.CheckSize(rv.size()));
  return Value::String(std::move(rv));
}

Result<Value> FDictsort(Interp&, const Value& v, CallArgs& ca) {
  Args a("dictsort", ca);
  bool cs = a.Get(0, "case_sensitive", Value::Bool(false)).Truthy();
  Value by = a.Get(1, "by", Value::String("key"));
  bool rev = a.Get(2, "reverse", Value::Bool(false)).Truthy();
  SKV_RETURN_IF_ERROR(a.Done(3));
  if (!v.is_dict()) return TypeError("dictsort: can only sort a mapping");
  size_t pos;
  if (by.is_string() && by.str() == "key") pos = 0;
  else if (by.is_string() && by.str() == "value") pos = 1;
  else return InvalidArgumentError("You can only sort by either \"key\" or \"value\"");
  List items;
  std::vector<Value> keys;
  for (const auto& [k, x] : v.dict().items) {
    items.push_back(Value::MakeTuple({k, x}));
    keys.push_back(SortKey(pos == 0 ? k : x, cs));
  }
  SKV_ASSIGN_OR_RETURN(List sorted, SortList(std::move(items), keys, rev));
  return Value::MakeList(std::move(sorted));
}

Result<Value> FSort(Interp& in, const Value& v, CallArgs& ca) {
  Args a("sort", ca);
  bool rev = a.Get(0, "reverse", Value::Bool(false)).Truthy();
  bool cs = a.Get(1, "case_sensitive", Value::Bool(false)).Truthy();
  Value attr = a.Get(2, "attribute", Value::None());
  SKV_RETURN_IF_ERROR(a.Done(3));
  SKV_ASSIGN_OR_RETURN(List items, in.Iterate(v));
  std::vector<Value> keys;
  for (const Value& x : items) {
    Value k = x;
    if (!attr.is_none()) {
      SKV_ASSIGN_OR_RETURN(std::string path, Str(attr));
      SKV_ASSIGN_OR_RETURN(k, AttrPath(in, x, path));
    }
    keys.push_back(SortKey(k, cs));
  }
  SKV_ASSIGN_OR_RETURN(List sorted, SortList(std::move(items), keys, rev));
  return Value::MakeList(std::move(sorted));
}

Result<Value> FUnique(Interp& in, const Value& v, CallArgs& ca) {
  Args a("unique", ca);
  bool cs = a.Get(0, "case_sensitive", Value::Bool(false)).Truthy();
  Value attr = a.Get(1, "attribute", Value::None());
  SKV_RETURN_IF_ERROR(a.Done(2));
  SKV_ASSIGN_OR_RETURN(List items, in.Iterate(v));
  List out;
  std::vector<Value> seen;
  for (const Value& x : items) {
    Value k = x;
    if (!attr.is_none()) {
      SKV_ASSIGN_OR_RETURN(std::string path, Str(attr));
      SKV_ASSIGN_OR_RETURN(k, AttrPath(in, x, path));
    }
    k = SortKey(k, cs);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return Equal(s, k); })) {
      seen.push_back(k);
      out.push_back(x);
    }
  }
  return Value::MakeIterator(std::move(out));
}

Result<Value> MinMax(Interp& in, const Value& v, CallArgs& ca, bool max) {
  Args a(max ? "max" : "min", ca);
  bool cs = a.Get(0, "case_sensitive", Value::Bool(false)).Truthy();
  Value attr = a.Get(1, "attribute", Value::None());
  SKV_RETURN_IF_ERROR(a.Done(2));
  SKV_ASSIGN_OR_RETURN(List items, in.Iterate(v));
  if (items.empty()) return Value::Undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  Value best_key;
  for (size_t i = 0; i < items.size(); ++i) {
    Value k = items[i];
    if (!attr.is_none()) {
      SKV_ASSIGN_OR_RETURN(std::string path, Str(attr));
      SKV_ASSIGN_OR_RETURN(k, AttrPath(in, items[i], path));
    }
    k = SortKey(k, cs);
    if (i == 0) {
      best_key = k;
      continue;
    }
    SKV_ASSIGN_OR_RETURN(int c, Compare(k, best_key));
    if (max ? c > 0 : c < 0) {
      best = i;
      best_key = k;
    }
  }
  return items[best];
}
Result<Value> FMax(Interp& in, const Value& v, CallArgs& ca) { return MinMax(in, v, ca, true); }
Result<Value> FMin(Interp& in, const Value& v, CallArgs& ca) { return MinMax(in, v, ca, false); }

Result<Value> FSum(Interp& in, const Value& v, CallArgs& ca) {
  Args a("sum", ca);
  Value attr = a.Get(0, "attribute", Value::None());
  Value total = a.Get(1, "start", Value::Int(0));
  SKV_RETURN_IF_ERROR(a.Done(2));
  SKV_ASSIGN_OR_RETURN(List items, in.Iterate(v));
  for (const Value& x : items) {
    Value k = x;
    if (!attr.is_none()) {
      SKV_ASSIGN_OR_RETURN(std::string path, Str(attr));
      SKV_ASSIGN_OR_RETURN(k, AttrPath(in, x, path));
    }
    if (!k.is_number() || !total.is_number()) return TypeError("unsupported operand type(s) for +: '" + total.TypeName() + "' and '" + k.TypeName() + "'");
    if (k.is_float() || total.is_float()) total = Value::Float(total.as_double() + k.as_double());
    else {
      int64_t r;
      if (__builtin_add_overflow(total.as_int(), k.as_int(), &r)) return InvalidArgumentError("integer overflow");
      total = Value::Int(r);
    }
  }
  return total;
}

Result<Value> FWordcount(Interp&, const Value& v, CallArgs& ca) {
  SKV_RETURN_IF_ERROR(Args("wordcount", ca).Done(0));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  int64_t n = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = DecodeUtf8(s, &i);
    bool w = cp == '_' || u_isalnum(static_cast<UChar32>(cp));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::Int(n);
}

Result<Value> FCenter(Interp&, const Value& v, CallArgs& ca) {
  Args a("center", ca);
  Value width = a.Get(0, "width", Value::Int(80));
  SKV_RETURN_IF_ERROR(a.Done(1));
  SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
  int64_t w = width.is_int() ? std::min<int64_t>(width.as_int(), 1 << 20) : 80;
  int64_t len = static_cast<int64_t>(Utf8Length(s));
  if (w <= len) return Value::String(s);
  int64_t pad = w - len;
  int64_t left = pad / 2 + (pad & w & 1);
  return Value::String(std::string(left, ' ') + s + std::string(pad - left, ' '));
}

Result<Value> FAttr(Interp& in, const Value& v, CallArgs& ca) {
  Args a("attr", ca);
  Value name = a.Get(0, "name");
  SKV_RETURN_IF_ERROR(a.Done(1));
  SKV_RETURN_IF_ERROR(RequireStr(name, "attribute name"));
  if (v.is_dict() && !HasMethod(v, name.str())) return Value::Undefined("'dict object' has no attribute '" + name.str() + "'");
  return in.GetAttr(v, name.str());
}

// select / reject / selectattr / rejectattr.
Result<Value> SelectImpl(Interp& in, const Value& v, CallArgs& ca, bool by_attr, bool keep_if) {
  if (by_attr && ca.args.empty()) return TypeError("selectattr/rejectattr need an attribute name");
  if (!v.Truthy()) return Value::MakeIterator({});  // jinja2 starts with `if value:`
  SKV_ASSIGN_OR_RETURN(List items, in.Iterate(v));
  size_t k = 0;
  std::string attr;
  if (by_attr) {
    SKV_ASSIGN_OR_RETURN(attr, Str(ca.args[k++]));
  }
  std::string test;
  if (k < ca.args.size()) {
    SKV_ASSIGN_OR_RETURN(test, Str(ca.args[k++]));
    if (!IsKnownTest(test)) return InvalidArgumentError("No test named '" + test + "'");
  }
  CallArgs targs;
  targs.args.assign(ca.args.begin() + static_cast<long>(k), ca.args.end());
  targs.kwargs = ca.kwargs;
  List out;
  for (const Value& x : items) {
    Value subject = x;
    if (by_attr) {
      SKV_ASSIGN_OR_RETURN(subject, AttrPath(in, x, attr));
    }
    bool r;
    if (test.empty()) {
      r = subject.Truthy();
    } else {
      CallArgs t = targs;
      SKV_ASSIGN_OR_RETURN(r, in.Test(test, subject, t));
    }
    if (r == keep_if) out.push_back(x);
  }
  return Value::MakeIterator(std::move(out));
}
Result<Value> FSelect(Interp& in, const Value& v, CallArgs& ca) { return SelectImpl(in, v, ca, false, true); }
Result<Value> FReject(Interp& in, const Value& v, CallArgs& ca) { return SelectImpl(in, v, ca, false, false); }
Result<Value> FSelectattr(Interp& in, const Value& v, CallArgs& ca) { return SelectImpl(in, v, ca, true, true); }
Result<Value> FRejectattr(Interp& in, const Value& v, CallArgs& ca) { return SelectImpl(in, v, ca, true, false); }

Result<Value> FMap(Interp& in, const Value& v, CallArgs& ca) {
  if (!v.Truthy()) return Value::MakeIterator({});  // jinja2 starts with `if value:`
  SKV_ASSIGN_OR_RETURN(List items, in.Iterate(v));
  List out;
  const Value* attr = nullptr;
  const Value* def = nullptr;
  for (const auto& [k, x] : ca.kwargs) {
    if (k == "attribute") attr = &x;
    else if (k == "default") def = &x;
  }
  if (attr != nullptr) {
    SKV_ASSIGN_OR_RETURN(std::string path, Str(*attr));
    for (const Value& x : items) {
      SKV_ASSIGN_OR_RETURN(Value r, AttrPath(in, x, path));
      if (r.is_undefined() && def != nullptr) r = *def;
      out.push_back(std::move(r));
    }
    return Value::MakeIterator(std::move(out));
  }
  if (ca.args.empty()) return TypeError("map requires a filter argument");
  SKV_ASSIGN_OR_RETURN(std::string filter, Str(ca.args[0]));
  if (!IsKnownFilter(filter)) return InvalidArgumentError("No filter named '" + filter + "'");
  CallArgs fargs;
  fargs.args.assign(ca.args.begin() + 1, ca.args.end());
  fargs.kwargs = ca.kwargs;
  for (const Value& x : items) {
    CallArgs f = fargs;
    SKV_ASSIGN_OR_RETURN(Value r, in.Filter(filter, x, f));
    out.push_back(std::move(r));
  }
  return Value::MakeIterator(std::move(out));
}

struct FilterEntry {
  std::string_view name;
  FilterFn fn;  // null: a jinja2 filter chat templates do not use (an error if called)
};

constexpr FilterEntry kFilters[] = {
    {"abs", FAbs}, {"attr", FAttr}, {"batch", nullptr}, {"capitalize", FCapitalize}, {"center", FCenter},
    {"count", FLength}, {"d", FDefault}, {"default", FDefault}, {"dictsort", FDictsort}, {"e", FEscape},
    {"escape", FEscape}, {"filesizeformat", nullptr}, {"first", FFirst}, {"float", FFloat},
    {"forceescape", FEscape}, {"format", nullptr}, {"groupby", nullptr}, {"indent", FIndent}, {"int", FInt},
    {"items", FItems}, {"join", FJoin}, {"last", FLast}, {"length", FLength}, {"list", FList}, {"lower", FLower},
    {"map", FMap}, {"max", FMax}, {"min", FMin}, {"pprint", nullptr}, {"random", nullptr}, {"reject", FReject},
    {"rejectattr", FRejectattr}, {"replace", FReplace}, {"reverse", FReverse}, {"round", FRound}, {"safe", FSafe},
    {"select", FSelect}, {"selectattr", FSelectattr}, {"slice", nullptr}, {"sort", FSort}, {"string", FString},
    {"striptags", nullptr}, {"sum", FSum}, {"title", FTitle}, {"tojson", FTojson}, {"trim", FTrim},
    {"truncate", nullptr}, {"unique", FUnique}, {"upper", FUpper}, {"urlencode", nullptr}, {"urlize", nullptr},
    {"wordcount", FWordcount}, {"wordwrap", nullptr}, {"xmlattr", nullptr},
};

}  // namespace

bool IsKnownFilter(std::string_view name) {
  return std::any_of(std::begin(kFilters), std::end(kFilters), [&](const FilterEntry& f) { return f.name == name; });
}

Result<Value> ApplyFilter(Interp& in, const std::string& name, const Value& operand, CallArgs& args) {
  SKV_RETURN_IF_ERROR(operand.is_string() ? in.Charge(operand.str().size()) : in.Step());
  for (const FilterEntry& f : kFilters) {
    if (f.name != name) continue;
    if (f.fn == nullptr) return UnimplementedError("the jinja2 filter '" + name + "' is not supported");
    return f.fn(in, operand, args);
  }
  return InvalidArgumentError("no filter named '" + name + "'");
}

}  // namespace swarmkv::jinja
