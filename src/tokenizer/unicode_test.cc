#include "tokenizer/unicode.h"

#include <gtest/gtest.h>

namespace swarmkv::unicode {
namespace {

TEST(Unicode, CategoriesOfNonAsciiText) {
  EXPECT_TRUE(CpFlags(0x00E9) & kLetter);       // é
  EXPECT_TRUE(CpFlags(0x0416) & kCasedLetter);  // Ж
  EXPECT_TRUE(CpFlags(0x4E2D) & kLetter);       // 中 (Lo)
  EXPECT_FALSE(CpFlags(0x4E2D) & kCasedLetter);
  EXPECT_TRUE(CpFlags(0x0663) & kNumber);       // Arabic-indic three
  EXPECT_TRUE(CpFlags(0x00BD) & kNumber);       // ½ (No)
  EXPECT_EQ(CpFlags(0x3000), kWhitespace);      // ideographic space
  EXPECT_EQ(CpFlags(0x00A0), kWhitespace);      // no-break space
  EXPECT_EQ(CpFlags(0x0085), kWhitespace);      // next line
  EXPECT_TRUE(CpFlags(0x2026) & kPunct);        // …
  EXPECT_TRUE(CpFlags(0x20AC) & kSymbol);       // €
  EXPECT_TRUE(CpFlags(0x0301) & kMark);         // combining acute
  EXPECT_TRUE(CpFlags(0x1F999) & kSymbol);      // 🦙
  EXPECT_EQ(CpFlags(0x200B), kOther);           // zero width space is Cf, not White_Space
}

TEST(Unicode, AsciiClassesFollowLlamaCppRegexSets) {
  EXPECT_EQ(CpFlags('\v'), kWhitespace);
  EXPECT_EQ(CpFlags(0x1C), kOther);  // \s in std::regex does not include the info separators
  EXPECT_EQ(CpFlags('_'), kPunct);
  EXPECT_EQ(CpFlags('$'), kSymbol);
  EXPECT_EQ(CpFlags('`'), kSymbol);
  EXPECT_EQ(CpFlags('~'), kOther);
  EXPECT_EQ(CpFlags('Q'), kLetter | kCasedLetter);
  EXPECT_EQ(CpFlags('7'), kNumber);
}

TEST(Unicode, InvalidUtf8DecodesToReplacementOneByteAtATime) {
  const std::string bad = "a\xC3(\xE2\x82\xFF\xF0\x9F\x98\x80";  // bad 2-byte, truncated 3-byte, 0xFF, 😀
  const auto cps = DecodeUtf8(bad);
  const std::vector<uint32_t> want = {'a', kReplacement, '(', kReplacement, kReplacement, kReplacement, 0x1F600};
  EXPECT_EQ(cps, want);
  std::string nul("x\0y", 3);
  EXPECT_EQ(DecodeUtf8(nul), (std::vector<uint32_t>{'x', 0, 'y'}));
}

TEST(Unicode, Utf8RoundTripAndValidity) {
  for (uint32_t cp : {0x24u, 0xA2u, 0x20ACu, 0x10348u, 0x10FFFFu}) {
    std::string s;
    AppendUtf8(cp, &s);
    EXPECT_TRUE(IsValidUtf8(s));
    EXPECT_EQ(DecodeUtf8(s), std::vector<uint32_t>{cp});
  }
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
}

TEST(Unicode, Gpt2ByteMappingIsABijection) {
  EXPECT_EQ(ByteToCp(' '), 0x120u);  // Ġ
  EXPECT_EQ(ByteToCp('\n'), 0x10Au); // Ċ
  EXPECT_EQ(ByteToCp('A'), static_cast<uint32_t>('A'));
  for (int b = 0; b < 256; ++b) EXPECT_EQ(CpToByte(ByteToCp(static_cast<uint8_t>(b))), b);
  EXPECT_EQ(CpToByte(' '), -1);
  EXPECT_EQ(CpToByte(0x4E2D), -1);
}

}  // namespace
}  // namespace swarmkv::unicode
