#include "tokenizer/jinja_pystr.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "tokenizer/jinja_interp.h"

namespace swarmkv::jinja::internal {
namespace {

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

bool IsCased(uint32_t cp) { return u_isUUppercase(cp) || u_isULowercase(cp) || u_istitle(cp); }

}  // namespace

bool PySpace(uint32_t c) {
  return (c >= 9 && c <= 13) || (c >= 28 && c <= 32) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
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

}  // namespace swarmkv::jinja::internal
