#include "tokenizer/jinja_lexer.h"

#include <cstdint>

namespace swarmkv::jinja {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's "unicode-escape" decoding of a string literal's body (jinja2 does the same).
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c != '\\' || i + 1 >= s.size()) {
      out += c;
      continue;
    }
    char e = s[++i];
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x':
      case 'u':
      case 'U': {
        size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        bool ok = i + n < s.size();
        for (size_t k = 1; ok && k <= n; ++k) {
          int h = HexVal(s[i + k]);
          if (h < 0) ok = false; else cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (!ok || cp > 0x10FFFF) {
          out += '\\';
          out += e;
          break;
        }
        AppendUtf8(cp, &out);
        i += n;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = 0;
          size_t k = 0;
          while (k < 3 && i + k < s.size() && s[i + k] >= '0' && s[i + k] <= '7') cp = cp * 8 + (s[i + k++] - '0');
          i += k - 1;
          AppendUtf8(cp, &out);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {}

  Result<std::vector<Token>> Run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      size_t open = FindTagOpen(pos);
      std::string text = src_.substr(pos, open - pos);
      if (open == src_.size()) {
        Emit(TokKind::kText, text, pos);
        break;
      }
      char type = src_[open + 1];  // '{', '%', '#'
      char sign = open + 2 < src_.size() ? src_[open + 2] : 0;
      if (sign == '-') {
        size_t end = text.size();
        while (end > 0 && IsSpace(text[end - 1])) --end;
        text.resize(end);
      } else if (sign != '+' && type != '{') {
        size_t l = text.rfind('\n');
        size_t l_pos = l == std::string::npos ? 0 : l + 1;
        if (l_pos > 0 || line_starting) {
          bool ws = l_pos < text.size();
          for (size_t k = l_pos; k < text.size(); ++k) ws = ws && IsSpace(text[k]);
          if (ws) text.resize(l_pos);
        }
      }
      Emit(TokKind::kText, text, pos);
      size_t inner = open + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      size_t after;
      if (type == '#') {
        size_t close = src_.find("#}", inner);
        if (close == std::string::npos) return Error(open, "unterminated comment");
        bool strip = close > inner && src_[close - 1] == '-';
        bool keep = close > inner && src_[close - 1] == '+';
        after = close + 2;
        after = AfterClose(after, strip, keep);
      } else if (type == '%' && IsRaw(inner)) {
        SKV_ASSIGN_OR_RETURN(after, LexRaw(open, inner));
      } else {
        Emit(type == '{' ? TokKind::kVarBegin : TokKind::kBlockBegin, "", open, true);
        SKV_ASSIGN_OR_RETURN(after, LexTag(inner, type == '{' ? '}' : '%'));
      }
      line_starting = after > 0 && src_[after - 1] == '\n';
      pos = after;
    }
    Emit(TokKind::kEnd, "", src_.size(), true);
    return std::move(tokens_);
  }

 private:
  size_t FindTagOpen(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return src_.size();
  }

  int LineOf(size_t pos) {
    while (line_pos_ < pos && line_pos_ < src_.size()) {
      if (src_[line_pos_] == '\n') ++line_;
      ++line_pos_;
    }
    return line_;
  }

  void Emit(TokKind kind, std::string value, size_t pos, bool always = false) {
    if (kind == TokKind::kText && value.empty() && !always) return;
    tokens_.push_back({kind, std::move(value), LineOf(pos)});
  }

  Status Error(size_t pos, const std::string& what) {
    return InvalidArgumentError("chat template line " + std::to_string(LineOf(pos)) + ": " + what);
  }

  // Position after a closing delimiter that ends at `after`, with its whitespace control.
  size_t AfterClose(size_t after, bool strip, bool keep) const {
    if (strip) {
      while (after < src_.size() && IsSpace(src_[after])) ++after;
    } else if (!keep && after < src_.size() && src_[after] == '\n') {
      ++after;  // trim_blocks
    }
    return after;
  }

  bool IsRaw(size_t inner) const {
    size_t p = inner;
    while (p < src_.size() && IsSpace(src_[p])) ++p;
    return src_.compare(p, 3, "raw") == 0 && (p + 3 >= src_.size() || !IsNameChar(src_[p + 3]));
  }

  Result<size_t> LexRaw(size_t open, size_t inner) {
    size_t close = src_.find("%}", inner);
    if (close == std::string::npos) return Error(open, "unterminated raw tag");
    size_t body = AfterClose(close + 2, src_[close - 1] == '-', src_[close - 1] == '+');
    for (size_t p = body; (p = src_.find("{%", p)) != std::string::npos; p += 2) {
      size_t q = p + 2;
      char sign = q < src_.size() ? src_[q] : 0;
      if (sign == '-' || sign == '+') ++q;
      while (q < src_.size() && IsSpace(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") != 0) continue;
      size_t c = src_.find("%}", q);
      if (c == std::string::npos) break;
      std::string text = src_.substr(body, p - body);
      if (sign == '-') {
        while (!text.empty() && IsSpace(text.back())) text.pop_back();
      } else if (sign != '+') {
        size_t l = text.rfind('\n');
        size_t l_pos = l == std::string::npos ? 0 : l + 1;
        bool ws = l_pos < text.size();
        for (size_t k = l_pos; k < text.size(); ++k) ws = ws && IsSpace(text[k]);
        if (ws && l_pos > 0) text.resize(l_pos);
      }
      Emit(TokKind::kText, text, body);
      return AfterClose(c + 2, src_[c - 1] == '-', src_[c - 1] == '+');
    }
    return Error(open, "missing {% endraw %}");
  }

  // Lexes the inside of a {{ }} or {% %} tag starting at `p`; returns the position after it.
  Result<size_t> LexTag(size_t p, char close) {
    int depth = 0;  // open brackets: a "}}" inside {{ {'a': {'b': 1}} }} closes a dict first
    while (true) {
      while (p < src_.size() && IsSpace(src_[p])) ++p;
      if (p >= src_.size()) return Error(p, std::string("unexpected end of template, expected '") + close + "}'");
      char c = src_[p];
      // The closing delimiter, with its whitespace control.
      if (depth == 0) {
        for (char sign : {'-', '+', '\0'}) {
          size_t q = p + (sign ? 1 : 0);
          if (sign && (p >= src_.size() || src_[p] != sign)) continue;
          if (q + 1 < src_.size() && src_[q] == close && src_[q + 1] == '}') {
            Emit(close == '}' ? TokKind::kVarEnd : TokKind::kBlockEnd, "", p, true);
            size_t after = q + 2;
            if (close == '}') {  // variable tags: no trim_blocks
              if (sign == '-') after = AfterClose(after, true, false);
              return after;
            }
            return AfterClose(after, sign == '-', sign == '+');
          }
        }
      }
      size_t start = p;
      if (IsNameStart(c)) {
        while (p < src_.size() && IsNameChar(src_[p])) ++p;
        Emit(TokKind::kName, src_.substr(start, p - start), start);
      } else if (IsDigit(c)) {
        while (p < src_.size() && (IsDigit(src_[p]) || src_[p] == '_')) ++p;
        bool is_float = false;
        if (p + 1 < src_.size() && src_[p] == '.' && IsDigit(src_[p + 1])) {
          is_float = true;
          ++p;
          while (p < src_.size() && (IsDigit(src_[p]) || src_[p] == '_')) ++p;
        }
        if (p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
          size_t q = p + 1;
          if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
          if (q < src_.size() && IsDigit(src_[q])) {
            is_float = true;
            p = q;
            while (p < src_.size() && IsDigit(src_[p])) ++p;
          }
        }
        std::string num;
        for (size_t k = start; k < p; ++k) {
          if (src_[k] != '_') num += src_[k];
        }
        Emit(is_float ? TokKind::kFloat : TokKind::kInt, num, start);
      } else if (c == '\'' || c == '"') {
        ++p;
        while (p < src_.size() && src_[p] != c) p += src_[p] == '\\' ? 2 : 1;
        if (p >= src_.size()) return Error(start, "unterminated string");
        Emit(TokKind::kString, Unescape(std::string_view(src_).substr(start + 1, p - start - 1)), start, true);
        ++p;
      } else {
        static constexpr std::string_view kOps3[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op(1, c);
        for (std::string_view o : kOps3) {
          if (src_.compare(p, 2, o) == 0) op = std::string(o);
        }
        if (op.size() == 1 && std::string_view("+-*/%~()[]{},.:|=<>;").find(c) == std::string_view::npos) {
          return Error(p, std::string("unexpected character '") + c + "'");
        }
        if (c == '(' || c == '[' || c == '{') ++depth;
        if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        Emit(TokKind::kOp, op, p, true);
        p += op.size();
      }
    }
  }

  std::string src_;
  std::vector<Token> tokens_;
  size_t line_pos_ = 0;
  int line_ = 1;
};

// jinja2: splitlines + "\n".join, which normalises newlines and drops one trailing newline.
std::string Normalize(std::string_view source) {
  std::string s;
  s.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      s += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      s += source[i];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

Result<std::vector<Token>> Lex(std::string_view source) { return Lexer(Normalize(source)).Run(); }

}  // namespace swarmkv::jinja
