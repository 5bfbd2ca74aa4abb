// Unicode helpers for the tokenizers: lenient UTF-8 decoding, code point classes and GPT-2's
// byte <-> code point mapping.
//
// Invariant: decoding never fails; an invalid or truncated UTF-8 sequence decodes to U+FFFD and
// consumes exactly one byte (llama.cpp's rule, so token ids match it on bad input). Classes
// follow llama.cpp's pre-tokenizer semantics: for ASCII they are fixed sets (the ones its regexes
// see: \p{P} and \p{S} are the ASCII subsets listed in CpClass); above ASCII the category comes
// from ICU's general category, and White_Space takes precedence over every other class.
// NOTE: ICU (libicu-dev, Debian) instead of a generated table: it is maintained, exact for every
// Unicode version Debian ships, and u_charType is a few table lookups.
//
// Thread-safety: pure functions; the static tables are built once, thread-safely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace swarmkv::unicode {

constexpr uint32_t kReplacement = 0xFFFD;

// Bit flags of one code point. Exactly one of kLetter..kOther is set unless kWhitespace is.
enum CpFlag : uint8_t {
  kLetter = 1 << 0,
  kNumber = 1 << 1,
  kPunct = 1 << 2,       // \p{P}
  kSymbol = 1 << 3,      // \p{S}
  kMark = 1 << 4,        // \p{M}
  kOther = 1 << 5,       // controls, separators other than white space, unassigned
  kWhitespace = 1 << 6,  // \s (ASCII \t\n\v\f\r and space; Unicode White_Space above ASCII)
  kCasedLetter = 1 << 7, // Lu, Ll, Lt (llama.cpp's deepseek-llm letter list)
};

uint8_t CpFlags(uint32_t cp);

// The letter-case classes of o200k's word alternatives (gpt-4o pre-tokenizer): a code point in
// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] has kUpperClass, one in [\p{Ll}\p{Lm}\p{Lo}\p{M}] has
// kLowerClass (Lm, Lo and marks have both; everything else neither). From ICU's general category.
enum CaseClass : uint8_t {
  kUpperClass = 1 << 0,
  kLowerClass = 1 << 1,
};
uint8_t CaseClasses(uint32_t cp);

// Length in bytes of the UTF-8 sequence that starts with `lead` (1 for continuation bytes).
int Utf8SeqLen(uint8_t lead);

// Decodes one code point at text[*pos], advancing *pos (by 1 on invalid input -> U+FFFD).
uint32_t DecodeOne(std::string_view text, size_t* pos);
std::vector<uint32_t> DecodeUtf8(std::string_view text);
void AppendUtf8(uint32_t cp, std::string* out);

// True when `text` is complete, valid UTF-8.
bool IsValidUtf8(std::string_view text);

// GPT-2 byte-level encoding: every byte maps to one printable code point ("Ġ" for space).
uint32_t ByteToCp(uint8_t b);
// The byte a GPT-2 code point stands for, or -1 when `cp` is not one of the 256.
int CpToByte(uint32_t cp);

}  // namespace swarmkv::unicode
