#include "tokenizer/unicode.h"

#include <unicode/uchar.h>

#include <array>

namespace swarmkv::unicode {
namespace {

uint8_t ComputeFlags(uint32_t cp) {
  if (cp < 128) {
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return kWhitespace;
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z')) return kLetter | kCasedLetter;
    if (cp >= '0' && cp <= '9') return kNumber;
    // llama.cpp's collapsed-regex ASCII sets: P = !-#%-*,-/:;?@[-]_{}  S = $+<=>^`|  ('~' neither)
    switch (cp) {
      case '$': case '+': case '<': case '=': case '>': case '^': case '`': case '|':
        return kSymbol;
      case '~':
        return kOther;
      default:
        break;
    }
    if (cp >= 0x21 && cp <= 0x7D) return kPunct;
    return kOther;
  }
  if (u_isUWhiteSpace(static_cast<UChar32>(cp))) return kWhitespace;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER: case U_LOWERCASE_LETTER: case U_TITLECASE_LETTER:
      return kLetter | kCasedLetter;
    case U_MODIFIER_LETTER: case U_OTHER_LETTER:
      return kLetter;
    case U_DECIMAL_DIGIT_NUMBER: case U_LETTER_NUMBER: case U_OTHER_NUMBER:
      return kNumber;
    case U_CONNECTOR_PUNCTUATION: case U_DASH_PUNCTUATION: case U_START_PUNCTUATION:
    case U_END_PUNCTUATION: case U_INITIAL_PUNCTUATION: case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
      return kPunct;
    case U_MATH_SYMBOL: case U_CURRENCY_SYMBOL: case U_MODIFIER_SYMBOL: case U_OTHER_SYMBOL:
      return kSymbol;
    case U_NON_SPACING_MARK: case U_ENCLOSING_MARK: case U_COMBINING_SPACING_MARK:
      return kMark;
    default:
      return kOther;
  }
}

uint8_t ComputeCaseClasses(uint32_t cp) {
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_UPPERCASE_LETTER: case U_TITLECASE_LETTER:
      return kUpperClass;
    case U_LOWERCASE_LETTER:
      return kLowerClass;
    case U_MODIFIER_LETTER: case U_OTHER_LETTER:
    case U_NON_SPACING_MARK: case U_ENCLOSING_MARK: case U_COMBINING_SPACING_MARK:
      return kUpperClass | kLowerClass;
    default:
      return 0;
  }
}

const std::array<uint8_t, 0x10000>& BmpCaseClasses() {
  static const auto* table = [] {
    auto* t = new std::array<uint8_t, 0x10000>();
    for (uint32_t cp = 0; cp < 0x10000; ++cp) (*t)[cp] = ComputeCaseClasses(cp);
    return t;
  }();
  return *table;
}

// Flags of the Basic Multilingual Plane, computed once (64 KiB); other planes ask ICU.
const std::array<uint8_t, 0x10000>& BmpFlags() {
  static const auto* table = [] {
    auto* t = new std::array<uint8_t, 0x10000>();
    for (uint32_t cp = 0; cp < 0x10000; ++cp) (*t)[cp] = ComputeFlags(cp);
    return t;
  }();
  return *table;
}

struct ByteTables {
  std::array<uint32_t, 256> byte_to_cp;
  std::array<int16_t, 512> cp_to_byte;  // every mapped code point is < 324
};

const ByteTables& GetByteTables() {
  static const ByteTables tables = [] {
    ByteTables t;
    t.cp_to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      t.byte_to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      t.cp_to_byte[t.byte_to_cp[b]] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return tables;
}

}  // namespace

uint8_t CpFlags(uint32_t cp) {
  if (cp < 0x10000) return BmpFlags()[cp];
  return ComputeFlags(cp);
}

uint8_t CaseClasses(uint32_t cp) {
  if (cp < 0x10000) return BmpCaseClasses()[cp];
  return ComputeCaseClasses(cp);
}

int Utf8SeqLen(uint8_t lead) {
  static constexpr int kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

uint32_t DecodeOne(std::string_view text, size_t* pos) {
  const size_t i = *pos;
  const auto b0 = static_cast<uint8_t>(text[i]);
  if (b0 < 0x80) {
    *pos = i + 1;
    return b0;
  }
  auto cont = [&](size_t k) {
    return i + k < text.size() && (static_cast<uint8_t>(text[i + k]) & 0xC0) == 0x80;
  };
  auto c = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(text[i + k]) & 0x3F); };
  // Like llama.cpp's unicode_cpt_from_utf8: the lead byte picks the length, continuation bytes
  // must follow; overlong forms are accepted as they are there.
  if ((b0 & 0xE0) == 0xC0 && cont(1)) {
    *pos = i + 2;
    return ((b0 & 0x1Fu) << 6) | c(1);
  }
  if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
    *pos = i + 3;
    return ((b0 & 0x0Fu) << 12) | (c(1) << 6) | c(2);
  }
  if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    *pos = i + 4;
    return ((b0 & 0x07u) << 18) | (c(1) << 12) | (c(2) << 6) | c(3);
  }
  *pos = i + 1;
  return kReplacement;
}

std::vector<uint32_t> DecodeUtf8(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) out.push_back(DecodeOne(text, &pos));
  return out;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<uint8_t>(text[i]);
    int n = b0 < 0x80 ? 1 : (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3 : (b0 & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > text.size()) return false;
    uint32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1Fu) : n == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
    for (int k = 1; k < n; ++k) {
      const auto b = static_cast<uint8_t>(text[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

uint32_t ByteToCp(uint8_t b) { return GetByteTables().byte_to_cp[b]; }

int CpToByte(uint32_t cp) {
  if (cp >= 512) return -1;
  return GetByteTables().cp_to_byte[cp];
}

}  // namespace swarmkv::unicode
