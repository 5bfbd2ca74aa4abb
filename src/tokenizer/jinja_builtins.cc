#include "tokenizer/jinja_builtins.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <unordered_set>

#include <unicode/uchar.h>
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include "tokenizer/jinja_interp.h"

namespace swarmkv::jinja {
namespace {

std::atomic<int64_t> g_pinned_time{0};

Status TypeError(const std::string& m) { return InvalidArgumentError(m); }

// ---- Argument binding (Python-style: positional then keyword, with defaults) ----

class Args {
 public:
  Args(std::string fn, CallArgs& a) : fn_(std::move(fn)), a_(a) {}
  // The value of parameter `pos`/`name`, or `def` when not given.
  Value Get(size_t pos, std::string_view name, Value def = Value()) {
    used_.insert(std::string(name));
    if (pos < a_.args.size()) return a_.args[pos];
    for (const auto& [k, v] : a_.kwargs) {
      if (k == name) return v;
    }
    return def;
  }
  bool Has(size_t pos, std::string_view name) const {
    if (pos < a_.args.size()) return true;
    for (const auto& kv : a_.kwargs) {
      if (kv.first == name) return true;
    }
    return false;
  }
  // Errors for arguments beyond `max_pos` positionals or unknown keywords.
  Status Done(size_t max_pos) const {
    if (a_.args.size() > max_pos) {
      return TypeError(fn_ + "() takes at most " + std::to_string(max_pos) + " positional argument(s) (" +
                       std::to_string(a_.args.size()) + " given)");
    }
    for (const auto& kv : a_.kwargs) {
      if (!used_.count(kv.first)) return TypeError(fn_ + "() got an unexpected keyword argument '" + kv.first + "'");
    }
    return Status::OK();
  }

 private:
  std::string fn_;
  CallArgs& a_;
  std::unordered_set<std::string> used_;
};

Result<std::string> Str(const Value& v) { return ToStr(v); }

Status RequireStr(const Value& v, const std::string& what) {
  if (!v.is_string()) return TypeError(what + " must be str, not " + v.TypeName());
  return Status::OK();
}

// ---- Unicode helpers ----

bool PySpace(uint32_t c) {
  return (c >= 9 && c <= 13) || (c >= 28 && c <= 32) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string CaseMap(std::string_view s, bool upper) {
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  std::string out;
  if (ascii) {
    out.reserve(s.size());
    for (char c : s) {
      out += static_cast<char>(upper ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (c >= 'A' && c <= 'Z' ? c + 32 : c));
    }
    return out;
  }
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  if (upper) u.toUpper(icu::Locale::getRoot());
  else u.toLower(icu::Locale::getRoot());
  u.toUTF8String(out);
  return out;
}

std::string Upper(std::string_view s) { return CaseMap(s, true); }
std::string Lower(std::string_view s) { return CaseMap(s, false); }

// Python str.strip family: strips code points in `chars` (or white space when null).
std::string Strip(std::string_view s, const Value& chars, bool left, bool right) {
  std::vector<std::string> cs = Utf8Chars(s);
  std::vector<std::string> set;
  bool ws = chars.is_none() || chars.is_undefined();
  if (!ws) set = Utf8Chars(chars.str());
  auto strip_it = [&](const std::string& c) {
    if (ws) {
      size_t i = 0;
      return PySpace(DecodeUtf8(c, &i));
    }
    return std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = cs.size();
  if (left) {
    while (b < e && strip_it(cs[b])) ++b;
  }
  if (right) {
    while (e > b && strip_it(cs[e - 1])) --e;
  }
  std::string out;
  for (size_t i = b; i < e; ++i) out += cs[i];
  return out;
}

// Python str.split / rsplit.
List Split(std::string_view s, const Value& sep, int64_t maxsplit, bool from_right) {
  List out;
  std::vector<std::string> parts;
  if (sep.is_none() || sep.is_undefined()) {
    // Runs of white space separate; no empty strings.
    std::vector<std::pair<size_t, size_t>> words;  // byte ranges
    size_t i = 0, start = std::string::npos;
    while (i < s.size()) {
      size_t at = i;
      uint32_t cp = DecodeUtf8(s, &i);
      if (PySpace(cp)) {
        if (start != std::string::npos) words.emplace_back(start, at);
        start = std::string::npos;
      } else if (start == std::string::npos) {
        start = at;
      }
    }
    if (start != std::string::npos) words.emplace_back(start, s.size());
    if (maxsplit < 0 || static_cast<size_t>(maxsplit) >= words.size()) {
      for (auto [b, e] : words) out.push_back(Value::String(std::string(s.substr(b, e - b))));
      return out;
    }
    if (!from_right) {
      for (int64_t k = 0; k < maxsplit; ++k) out.push_back(Value::String(std::string(s.substr(words[k].first, words[k].second - words[k].first))));
      // The remainder keeps its trailing white space (Python: ' a  b '.split(None, 1) == ['a', 'b ']).
      out.push_back(Value::String(std::string(s.substr(words[maxsplit].first))));
    } else {
      size_t n = words.size();
      std::string head(s.substr(0, words[n - maxsplit - 1].second));
      out.push_back(Value::String(std::move(head)));  // keeps its leading white space
      for (size_t k = n - maxsplit; k < n; ++k) out.push_back(Value::String(std::string(s.substr(words[k].first, words[k].second - words[k].first))));
    }
    return out;
  }
  const std::string& d = sep.str();
  std::vector<std::string> pieces;
  if (!from_right) {
    size_t pos = 0;
    int64_t n = 0;
    while (maxsplit < 0 || n < maxsplit) {
      size_t f = s.find(d, pos);
      if (f == std::string::npos) break;
      pieces.emplace_back(s.substr(pos, f - pos));
      pos = f + d.size();
      ++n;
    }
    pieces.emplace_back(s.substr(pos));
  } else {
    size_t end = s.size();
    int64_t n = 0;
    std::vector<std::string> rev;
    while (maxsplit < 0 || n < maxsplit) {
      if (end < d.size()) break;
      size_t f = s.rfind(d, end - d.size());
      if (f == std::string::npos) break;
      rev.emplace_back(s.substr(f + d.size(), end - f - d.size()));
      end = f;
      ++n;
    }
    rev.emplace_back(s.substr(0, end));
    pieces.assign(rev.rbegin(), rev.rend());
  }
  for (auto& p : pieces) out.push_back(Value::String(std::move(p)));
  return out;
}

std::string Replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  if (count == 0) return s;
  std::string out;
  if (old.empty()) {  // Python inserts between every code point
    std::vector<std::string> cs = Utf8Chars(s);
    int64_t n = 0;
    for (size_t i = 0; i <= cs.size(); ++i) {
      if (count < 0 || n < count) {
        out += repl;
        ++n;
      }
      if (i < cs.size()) out += cs[i];
    }
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t f = s.find(old, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += repl;
    pos = f + old.size();
    ++n;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> lines;
  std::string cur;
  size_t i = 0;
  while (i < s.size()) {
    size_t at = i;
    uint32_t cp = DecodeUtf8(s, &i);
    bool brk = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 ||
               cp == 0x2028 || cp == 0x2029;
    if (brk) {
      if (cp == '\r' && i < s.size() && s[i] == '\n') ++i;
      lines.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.append(s, at, i - at);
    }
  }
  if (!cur.empty()) lines.push_back(std::move(cur));
  return lines;
}

std::string Capitalize(const std::string& s) {
  std::vector<std::string> cs = Utf8Chars(s);
  if (cs.empty()) return s;
  std::string rest;
  for (size_t i = 1; i < cs.size(); ++i) rest += cs[i];
  return Upper(cs[0]) + Lower(rest);
}

bool IsCased(uint32_t cp) { return u_isUUppercase(cp) || u_isULowercase(cp) || u_istitle(cp); }
bool IsAlphaCp(uint32_t cp) { return u_isalpha(static_cast<UChar32>(cp)); }

// Python str.title: upper-case a cased letter after an uncased one, lower-case the rest.
std::string PyTitle(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (const std::string& c : Utf8Chars(s)) {
    size_t i = 0;
    uint32_t cp = DecodeUtf8(c, &i);
    out += prev_cased ? Lower(c) : Upper(c);
    prev_cased = IsCased(cp);
  }
  return out;
}

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

bool AllCp(const std::string& s, bool (*pred)(uint32_t)) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();) {
    if (!pred(DecodeUtf8(s, &i))) return false;
  }
  return true;
}

// Python islower / isupper: at least one cased character, all cased ones in that case.
bool CaseTest(const std::string& s, bool upper) {
  bool any = false;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = DecodeUtf8(s, &i);
    if (!IsCased(cp)) continue;
    any = true;
    if (upper ? (u_isULowercase(cp) || u_istitle(cp)) : (u_isUUppercase(cp) || u_istitle(cp))) return false;
  }
  return any;
}

// Python int(str, 10): optional sign, digits with single underscores, surrounding white space.
bool ParsePyInt(const std::string& raw, int64_t* out) {
  std::string s = Strip(raw, Value::None(), true, true);
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i >= s.size()) return false;
  __int128 v = 0;
  bool prev_digit = false;
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && prev_digit && i + 1 < s.size() && s[i + 1] != '_') {
      prev_digit = false;
      continue;
    }
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
    if (v > static_cast<__int128>(INT64_MAX) + 1) return false;
    prev_digit = true;
  }
  if (!prev_digit) return false;
  v = neg ? -v : v;
  if (v > INT64_MAX || v < INT64_MIN) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

bool ParsePyFloat(const std::string& raw, double* out) {
  std::string s = Strip(raw, Value::None(), true, true);
  if (s.empty()) return false;
  std::string t;
  for (char c : s) {
    if (c != '_') t += c;
  }
  std::string low = Lower(t);
  std::string body = low[0] == '+' || low[0] == '-' ? low.substr(1) : low;
  if (body == "inf" || body == "infinity" || body == "nan") {
    double v = body == "nan" ? NAN : INFINITY;
    *out = low[0] == '-' ? -v : v;
    return true;
  }
  for (char c : body) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == '+' || c == '-')) return false;
  }
  char* end = nullptr;
  *out = std::strtod(t.c_str(), &end);
  return end != nullptr && *end == '\0';
}

// Python round(x, n) for floats: round half to even on the exact binary value.
double PyRound(double x, int64_t n) {
  if (!std::isfinite(x)) return x;
  if (n > 300) return x;
  if (n < -300) return 0.0 * x;
  if (n >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(n), x);
    return std::strtod(buf, nullptr);
  }
  double p = std::pow(10.0, static_cast<double>(-n));
  return std::nearbyint(x / p) * p;
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

// The sandboxed str.format: {} {0} {name} with optional !r/!s and a simple format spec.
Result<std::string> PyFormat(Interp& in, const std::string& fmt, CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') ++i;
      else return InvalidArgumentError("Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = fmt.find('}', i);
    if (close == std::string::npos) return InvalidArgumentError("Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    std::string spec, conv;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field.resize(bang);
    }
    size_t end = field.find_first_of(".[");
    std::string head = field.substr(0, end);
    Value v;
    if (head.empty()) {
      if (auto_idx >= a.args.size()) return InvalidArgumentError("Replacement index " + std::to_string(auto_idx) + " out of range for positional args tuple");
      v = a.args[auto_idx++];
    } else if (std::all_of(head.begin(), head.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      size_t k = std::stoul(head);
      if (k >= a.args.size()) return InvalidArgumentError("Replacement index " + head + " out of range for positional args tuple");
      v = a.args[k];
    } else {
      bool found = false;
      for (auto& [k, val] : a.kwargs) {
        if (k == head) {
          v = val;
          found = true;
        }
      }
      if (!found) return InvalidArgumentError("KeyError: '" + head + "'");
    }
    if (end != std::string::npos) {
      std::string rest = field.substr(end);
      size_t p = 0;
      while (p < rest.size()) {
        if (rest[p] == '.') {
          size_t q = rest.find_first_of(".[", p + 1);
          SKV_ASSIGN_OR_RETURN(v, in.GetAttr(v, rest.substr(p + 1, q == std::string::npos ? std::string::npos : q - p - 1)));
          p = q == std::string::npos ? rest.size() : q;
        } else {
          size_t q = rest.find(']', p);
          if (q == std::string::npos) return InvalidArgumentError("Missing ']' in format string");
          std::string key = rest.substr(p + 1, q - p - 1);
          bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
          SKV_ASSIGN_OR_RETURN(v, in.GetItem(v, digits ? Value::Int(std::stoll(key)) : Value::String(key)));
          p = q + 1;
        }
      }
    }
    if (v.is_undefined() && !v.undefined_hint().empty()) {
      // Formatting an Undefined prints "" (its __format__ is str's).
    }
    std::string s;
    if (conv == "r") {
      SKV_ASSIGN_OR_RETURN(s, Repr(v));
    } else if (conv.empty() || conv == "s") {
      SKV_ASSIGN_OR_RETURN(s, ToStr(v));
    } else {
      return InvalidArgumentError("Unknown conversion specifier " + conv);
    }
    if (!spec.empty()) {
      // [[fill]align][width]; numbers and precision are not supported.
      char fill = ' ', align = v.is_number() && conv.empty() ? '>' : '<';
      size_t p = 0;
      if (spec.size() >= 2 && (spec[1] == '<' || spec[1] == '>' || spec[1] == '^')) {
        fill = spec[0];
        align = spec[1];
        p = 2;
      } else if (spec[0] == '<' || spec[0] == '>' || spec[0] == '^') {
        align = spec[0];
        p = 1;
      }
      std::string w = spec.substr(p);
      if (w.empty() || !std::all_of(w.begin(), w.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
          w.size() > 6) {
        return InvalidArgumentError("format spec '" + spec + "' is not supported");
      }
      size_t width = std::stoul(w), len = Utf8Length(s);
      if (width > len) {
        size_t pad = width - len;
        size_t left = align == '<' ? 0 : align == '>' ? pad : pad / 2;
        s = std::string(left, fill) + s + std::string(pad - left, fill);
      }
    }
    out += s;
    SKV_RETURN_IF_ERROR(in.CheckSize(out.size()));
  }
  return out;
}

// ---- Filters ----

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

// ---- Tests ----

bool IsIterable(const Value& v) {
  return v.is_undefined() || v.is_string() || v.is_sequence_like() || v.is_dict() || v.is_iterator();
}

Result<bool> TestValue(Interp& in, const std::string& name, const Value& v, CallArgs& ca) {
  auto arg = [&]() -> Result<Value> {
    if (ca.args.empty()) return TypeError("test '" + name + "' needs an argument");
    return ca.args[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return IsIterable(v);
  if (name == "sequence") return v.is_string() || v.is_sequence_like() || v.is_dict();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {
    SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
    return CaseTest(s, name == "upper");
  }
  if (name == "odd" || name == "even") {
    if (!v.is_int() && !v.is_bool()) return TypeError("odd/even need an integer");
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    SKV_ASSIGN_OR_RETURN(Value n, arg());
    if (!v.is_number() || !n.is_number()) return TypeError("divisibleby needs numbers");
    if (n.as_double() == 0) return InvalidArgumentError("integer division or modulo by zero");
    if (v.is_float() || n.is_float()) return std::fmod(v.as_double(), n.as_double()) == 0;
    return v.as_int() % n.as_int() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") {
    SKV_ASSIGN_OR_RETURN(Value o, arg());
    return Equal(v, o);
  }
  if (name == "ne" || name == "!=") {
    SKV_ASSIGN_OR_RETURN(Value o, arg());
    return !Equal(v, o);
  }
  if (name == "lt" || name == "lessthan" || name == "<" || name == "le" || name == "<=" || name == "gt" ||
      name == "greaterthan" || name == ">" || name == "ge" || name == ">=") {
    SKV_ASSIGN_OR_RETURN(Value o, arg());
    SKV_ASSIGN_OR_RETURN(int c, Compare(v, o));
    if (name == "lt" || name == "lessthan" || name == "<") return c < 0;
    if (name == "le" || name == "<=") return c <= 0;
    if (name == "gt" || name == "greaterthan" || name == ">") return c > 0;
    return c >= 0;
  }
  if (name == "in") {
    SKV_ASSIGN_OR_RETURN(Value seq, arg());
    if (seq.is_string()) {
      if (!v.is_string()) return TypeError("'in <string>' requires string as left operand");
      return seq.str().find(v.str()) != std::string::npos;
    }
    if (seq.is_dict()) return seq.dict().Find(v) != nullptr;
    SKV_ASSIGN_OR_RETURN(List items, in.Iterate(seq));
    return std::any_of(items.begin(), items.end(), [&](const Value& x) { return Equal(x, v); });
  }
  if (name == "sameas") {
    SKV_ASSIGN_OR_RETURN(Value o, arg());
    if (v.is_none() || v.is_bool() || o.is_none() || o.is_bool()) return v.kind() == o.kind() && Equal(v, o);
    return Equal(v, o) && (v.is_number() || v.is_string());
  }
  if (name == "filter") {
    SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
    return IsKnownFilter(s);
  }
  if (name == "test") {
    SKV_ASSIGN_OR_RETURN(std::string s, Str(v));
    return IsKnownTest(s);
  }
  return InvalidArgumentError("no test named '" + name + "'");
}

constexpr std::string_view kTests[] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter",
    "float", "ge", "gt", "greaterthan", "in", "integer", "iterable", "le", "lower", "lessthan", "lt", "mapping",
    "ne", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper",
    "==", "!=", "<", "<=", ">", ">=",
};

// ---- Methods ----

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

template <size_t N>
bool In(const std::string_view (&arr)[N], std::string_view s) {
  return std::find(std::begin(arr), std::end(arr), s) != std::end(arr);
}

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

bool IsKnownFilter(std::string_view name) {
  return std::any_of(std::begin(kFilters), std::end(kFilters), [&](const FilterEntry& f) { return f.name == name; });
}

bool IsKnownTest(std::string_view name) { return In(kTests, name); }

Result<Value> ApplyFilter(Interp& in, const std::string& name, const Value& operand, CallArgs& args) {
  SKV_RETURN_IF_ERROR(operand.is_string() ? in.Charge(operand.str().size()) : in.Step());
  for (const FilterEntry& f : kFilters) {
    if (f.name != name) continue;
    if (f.fn == nullptr) return UnimplementedError("the jinja2 filter '" + name + "' is not supported");
    return f.fn(in, operand, args);
  }
  return InvalidArgumentError("no filter named '" + name + "'");
}

Result<bool> ApplyTest(Interp& in, const std::string& name, const Value& operand, CallArgs& args) {
  SKV_RETURN_IF_ERROR(in.Step());
  return TestValue(in, name, operand, args);
}

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

void PinJinjaTimeForTesting(int64_t unix_seconds) { g_pinned_time.store(unix_seconds); }

void AddGlobals(std::unordered_map<std::string, Value>* g) {
  (*g)["raise_exception"] = Value::MakeCallable("raise_exception", [](Interp&, CallArgs& a) -> Result<Value> {
    std::string msg = "the template raised an error";
    if (!a.args.empty()) {
      Result<std::string> s = ToStr(a.args[0]);
      if (s.ok()) msg = *s;
    }
    return InvalidArgumentError(msg);
  });
  (*g)["strftime_now"] = Value::MakeCallable("strftime_now", [](Interp&, CallArgs& ca) -> Result<Value> {
    Args a("strftime_now", ca);
    Value fmt = a.Get(0, "format");
    SKV_RETURN_IF_ERROR(a.Done(1));
    SKV_RETURN_IF_ERROR(RequireStr(fmt, "strftime_now format"));
    if (fmt.str().size() > 256) return InvalidArgumentError("strftime_now format too long");
    int64_t pinned = g_pinned_time.load();
    std::time_t t = pinned != 0 ? static_cast<std::time_t>(pinned) : std::time(nullptr);
    std::tm tm{};
    if (pinned != 0) gmtime_r(&t, &tm);
    else localtime_r(&t, &tm);
    if (fmt.str().empty()) return Value::String("");
    std::string buf(1024, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), fmt.str().c_str(), &tm);
    buf.resize(n);
    return Value::String(std::move(buf));
  });
  (*g)["range"] = Value::MakeCallable("range", [](Interp& in, CallArgs& ca) -> Result<Value> {
    if (ca.args.empty() || ca.args.size() > 3 || !ca.kwargs.empty()) return TypeError("range expected 1 to 3 integer arguments");
    for (const Value& v : ca.args) {
      if (!v.is_int() && !v.is_bool()) return TypeError("'" + v.TypeName() + "' object cannot be interpreted as an integer");
    }
    int64_t start = 0, stop, step = 1;
    if (ca.args.size() == 1) {
      stop = ca.args[0].as_int();
    } else {
      start = ca.args[0].as_int();
      stop = ca.args[1].as_int();
      if (ca.args.size() == 3) step = ca.args[2].as_int();
    }
    if (step == 0) return InvalidArgumentError("range() arg 3 must not be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      out.push_back(Value::Int(i));
      if (out.size() > 100000) return ResourceExhaustedError("range too big");
      SKV_RETURN_IF_ERROR(in.Step());
    }
    return Value::MakeList(std::move(out));
  });
  (*g)["namespace"] = Value::MakeCallable("namespace", [](Interp& in, CallArgs& ca) -> Result<Value> {
    Dict d;
    for (const Value& a : ca.args) {
      if (!a.is_dict()) return TypeError("namespace() positional argument must be a mapping");
      for (const auto& [k, v] : a.dict().items) d.Set(k, v);
    }
    for (const auto& [k, v] : ca.kwargs) d.Set(Value::String(k), v);
    Value ns = Value::MakeNamespace(std::move(d));
    in.RegisterNamespace(ns);
    return ns;
  });
  (*g)["dict"] = Value::MakeCallable("dict", [](Interp&, CallArgs& ca) -> Result<Value> {
    Dict d;
    for (const Value& a : ca.args) {
      if (!a.is_dict()) return TypeError("dict() positional argument must be a mapping");
      for (const auto& [k, v] : a.dict().items) d.Set(k, v);
    }
    for (const auto& [k, v] : ca.kwargs) d.Set(Value::String(k), v);
    return Value::MakeDict(std::move(d));
  });
}

}  // namespace swarmkv::jinja
