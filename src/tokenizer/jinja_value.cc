#include "tokenizer/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <unicode/uchar.h>

namespace swarmkv::jinja {

uint32_t DecodeUtf8(std::string_view s, size_t* i) {
  unsigned char c = static_cast<unsigned char>(s[*i]);
  int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
  if (n <= 0 || *i + static_cast<size_t>(n) >= s.size()) {
    ++*i;
    return c;
  }
  uint32_t cp = c & (0x3F >> n);
  for (int k = 1; k <= n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  *i += n + 1;
  return cp;
}

namespace {

constexpr int kMaxReprDepth = 256;

// Decodes one code point of UTF-8 at s[*i] (advancing *i); invalid bytes decode as themselves.
bool PyPrintable(uint32_t cp) {
  if (cp == ' ') return true;
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x7F) return true;
  int8_t t = u_charType(static_cast<UChar32>(cp));
  return !(t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_SURROGATE || t == U_PRIVATE_USE_CHAR ||
           t == U_UNASSIGNED || t == U_LINE_SEPARATOR || t == U_PARAGRAPH_SEPARATOR || t == U_SPACE_SEPARATOR);
}

std::string StrRepr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    uint32_t cp = DecodeUtf8(s, &i);
    char buf[16];
    if (cp == static_cast<uint32_t>(q) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (PyPrintable(cp)) {
      out.append(s.substr(start, i - start));
    } else {
      if (cp < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", cp);
      else if (cp < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      else std::snprintf(buf, sizeof buf, "\\U%08x", cp);
      out += buf;
    }
  }
  out += q;
  return out;
}

Status DepthError() { return InvalidArgumentError("value nested too deeply (or refers to itself)"); }

Result<std::string> ReprImpl(const Value& v, int depth);

Result<std::string> SeqRepr(const Value& v, int depth) {
  const bool tuple = v.is_tuple();
  std::string out = tuple ? "(" : "[";
  const List& l = v.list();
  for (size_t i = 0; i < l.size(); ++i) {
    if (i) out += ", ";
    SKV_ASSIGN_OR_RETURN(std::string s, ReprImpl(l[i], depth + 1));
    out += s;
  }
  if (tuple && l.size() == 1) out += ",";
  out += tuple ? ")" : "]";
  return out;
}

Result<std::string> DictRepr(const Dict& d, int depth) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, val] : d.items) {
    if (!first) out += ", ";
    first = false;
    SKV_ASSIGN_OR_RETURN(std::string ks, ReprImpl(k, depth + 1));
    SKV_ASSIGN_OR_RETURN(std::string vs, ReprImpl(val, depth + 1));
    out += ks + ": " + vs;
  }
  return out + "}";
}

Result<std::string> ReprImpl(const Value& v, int depth) {
  if (depth > kMaxReprDepth) return DepthError();
  switch (v.kind()) {
    case ValueKind::kUndefined: return std::string("Undefined");
    case ValueKind::kNone: return std::string("None");
    case ValueKind::kBool: return std::string(v.as_bool() ? "True" : "False");
    case ValueKind::kInt: return std::to_string(v.as_int());
    case ValueKind::kFloat: return FloatRepr(v.as_double());
    case ValueKind::kString: return StrRepr(v.str());
    case ValueKind::kList:
    case ValueKind::kTuple: return SeqRepr(v, depth);
    case ValueKind::kDict: return DictRepr(v.dict(), depth);
    case ValueKind::kNamespace: {
      SKV_ASSIGN_OR_RETURN(std::string d, DictRepr(v.dict(), depth));
      return "<Namespace " + d + ">";
    }
    case ValueKind::kCallable: return "<function " + v.callable().name + ">";
    case ValueKind::kIterator: return "<" + v.iterator().type_name + " object>";
  }
  return std::string();
}

void JsonString(std::string_view s, bool ensure_ascii, std::string* out) {
  *out += '"';
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    uint32_t cp = DecodeUtf8(s, &i);
    char buf[16];
    switch (cp) {
      case '"': *out += "\\\""; continue;
      case '\\': *out += "\\\\"; continue;
      case '\n': *out += "\\n"; continue;
      case '\r': *out += "\\r"; continue;
      case '\t': *out += "\\t"; continue;
      case '\b': *out += "\\b"; continue;
      case '\f': *out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
      if (cp >= 0x10000) {
        uint32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      }
      *out += buf;
    } else {
      out->append(s.substr(start, i - start));
    }
  }
  *out += '"';
}

std::string JsonFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return FloatRepr(d);
}

Result<std::string> JsonKey(const Value& k) {
  switch (k.kind()) {
    case ValueKind::kString: return k.str();
    case ValueKind::kBool: return std::string(k.as_bool() ? "true" : "false");
    case ValueKind::kNone: return std::string("null");
    case ValueKind::kInt: return std::to_string(k.as_int());
    case ValueKind::kFloat: return JsonFloat(k.as_double());
    default: return InvalidArgumentError("keys must be str, int, float, bool or None, not " + k.TypeName());
  }
}

Status JsonImpl(const Value& v, const JsonDumpOptions& o, int depth, std::string* out) {
  if (depth > kMaxReprDepth) return DepthError();
  auto newline = [&](int level) {
    if (!o.has_indent) return;
    *out += '\n';
    for (int i = 0; i < level; ++i) *out += o.indent;
  };
  switch (v.kind()) {
    case ValueKind::kNone: *out += "null"; return Status::OK();
    case ValueKind::kBool: *out += v.as_bool() ? "true" : "false"; return Status::OK();
    case ValueKind::kInt: *out += std::to_string(v.as_int()); return Status::OK();
    case ValueKind::kFloat: *out += JsonFloat(v.as_double()); return Status::OK();
    case ValueKind::kString: JsonString(v.str(), o.ensure_ascii, out); return Status::OK();
    case ValueKind::kList:
    case ValueKind::kTuple: {
      const List& l = v.list();
      if (l.empty()) {
        *out += "[]";
        return Status::OK();
      }
      *out += '[';
      for (size_t i = 0; i < l.size(); ++i) {
        if (i) *out += o.item_separator;
        newline(depth + 1);
        SKV_RETURN_IF_ERROR(JsonImpl(l[i], o, depth + 1, out));
      }
      newline(depth);
      *out += ']';
      return Status::OK();
    }
    case ValueKind::kDict: {
      const Dict& d = v.dict();
      if (d.items.empty()) {
        *out += "{}";
        return Status::OK();
      }
      std::vector<std::pair<std::string, const Value*>> items;
      for (const auto& [k, val] : d.items) {
        SKV_ASSIGN_OR_RETURN(std::string ks, JsonKey(k));
        items.emplace_back(std::move(ks), &val);
      }
      if (o.sort_keys) {
        std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      }
      *out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) *out += o.item_separator;
        newline(depth + 1);
        JsonString(items[i].first, o.ensure_ascii, out);
        *out += o.key_separator;
        SKV_RETURN_IF_ERROR(JsonImpl(*items[i].second, o, depth + 1, out));
      }
      newline(depth);
      *out += '}';
      return Status::OK();
    }
    default: return InvalidArgumentError("Object of type " + v.TypeName() + " is not JSON serializable");
  }
}

}  // namespace

const Value* Dict::Find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k.is_string() && k.str() == key) return &v;
  }
  return nullptr;
}

const Value* Dict::Find(const Value& key) const {
  if (key.is_string()) return Find(std::string_view(key.str()));
  for (const auto& [k, v] : items) {
    if (Equal(k, key)) return &v;
  }
  return nullptr;
}

void Dict::Set(Value key, Value value) {
  for (auto& [k, v] : items) {
    if (Equal(k, key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

bool Value::Truthy() const {
  switch (kind_) {
    case ValueKind::kUndefined:
    case ValueKind::kNone: return false;
    case ValueKind::kBool:
    case ValueKind::kInt: return i_ != 0;
    case ValueKind::kFloat: return d_ != 0;
    case ValueKind::kString: return !str_->empty();
    case ValueKind::kList:
    case ValueKind::kTuple: return !list_->empty();
    case ValueKind::kDict: return !dict_->items.empty();
    default: return true;
  }
}

std::string Value::TypeName() const {
  switch (kind_) {
    case ValueKind::kUndefined: return "Undefined";
    case ValueKind::kNone: return "NoneType";
    case ValueKind::kBool: return "bool";
    case ValueKind::kInt: return "int";
    case ValueKind::kFloat: return "float";
    case ValueKind::kString: return "str";
    case ValueKind::kList: return "list";
    case ValueKind::kTuple: return "tuple";
    case ValueKind::kDict: return "dict";
    case ValueKind::kNamespace: return "Namespace";
    case ValueKind::kCallable: return "function";
    case ValueKind::kIterator: return iter_->type_name;
  }
  return "?";
}

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  if (exp < -4 || exp >= 16) {
    std::string out = sign + digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return out + eb;
  }
  if (exp >= 0) {
    std::string ip, fp;
    if (static_cast<int>(digits.size()) <= exp + 1) {
      ip = digits + std::string(exp + 1 - digits.size(), '0');
      fp = "0";
    } else {
      ip = digits.substr(0, exp + 1);
      fp = digits.substr(exp + 1);
    }
    return sign + ip + "." + fp;
  }
  return sign + "0." + std::string(-exp - 1, '0') + digits;
}

Result<std::string> Repr(const Value& v) { return ReprImpl(v, 0); }

Result<std::string> ToStr(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined: return std::string();
    case ValueKind::kString: return v.str();
    default: return ReprImpl(v, 0);
  }
}

bool Equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone: return true;
    case ValueKind::kString: return a.str() == b.str();
    case ValueKind::kList:
    case ValueKind::kTuple: {
      const List& x = a.list();
      const List& y = b.list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Equal(x[i], y[i])) return false;
      }
      return true;
    }
    case ValueKind::kDict: {
      const Dict& x = a.dict();
      const Dict& y = b.dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* o = y.Find(k);
        if (o == nullptr || !Equal(v, *o)) return false;
      }
      return true;
    }
    case ValueKind::kNamespace: return &a.dict() == &b.dict();
    case ValueKind::kCallable: return &a.callable() == &b.callable();
    case ValueKind::kIterator: return &a.iterator() == &b.iterator();
    default: return false;
  }
}

Result<int> Compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.str().compare(b.str());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.kind() == b.kind() && a.is_sequence_like()) {
    const List& x = a.list();
    const List& y = b.list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (Equal(x[i], y[i])) continue;
      return Compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  return InvalidArgumentError("'<' not supported between instances of '" + a.TypeName() + "' and '" + b.TypeName() +
                              "'");
}

Result<std::string> JsonDumps(const Value& v, const JsonDumpOptions& opts) {
  std::string out;
  SKV_RETURN_IF_ERROR(JsonImpl(v, opts, 0, &out));
  return out;
}

Result<Value> FromJson(const nlohmann::ordered_json& j, int max_depth) {
  if (max_depth < 0) return InvalidArgumentError("chat template input nested too deeply");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::None();
    case nlohmann::ordered_json::value_t::boolean: return Value::Bool(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::Int(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return InvalidArgumentError("chat template input: integer too large");
      return Value::Int(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::Float(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::String(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List l;
      l.reserve(j.size());
      for (const auto& e : j) {
        SKV_ASSIGN_OR_RETURN(Value v, FromJson(e, max_depth - 1));
        l.push_back(std::move(v));
      }
      return Value::MakeList(std::move(l));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      d.items.reserve(j.size());
      for (const auto& [k, e] : j.items()) {
        SKV_ASSIGN_OR_RETURN(Value v, FromJson(e, max_depth - 1));
        d.items.emplace_back(Value::String(k), std::move(v));
      }
      return Value::MakeDict(std::move(d));
    }
    default: return InvalidArgumentError("chat template input: unsupported JSON value");
  }
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    DecodeUtf8(s, &i);
    ++n;
  }
  return n;
}

std::vector<size_t> Utf8Offsets(std::string_view s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < s.size();) {
    out.push_back(i);
    DecodeUtf8(s, &i);
  }
  out.push_back(s.size());
  return out;
}

std::vector<std::string> Utf8Chars(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    DecodeUtf8(s, &i);
    out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace swarmkv::jinja
