#include "tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include <random>

#include "tokenizer/unicode.h"

namespace swarmkv {
namespace {

std::vector<std::string> Split(PreTokenizerKind kind, const std::string& text) {
  const auto cps = unicode::DecodeUtf8(text);
  std::vector<std::string> out;
  size_t c = 0;
  for (uint32_t len : PreTokenize(kind, cps)) {
    std::string w;
    for (size_t k = 0; k < len; ++k) unicode::AppendUtf8(cps[c + k], &w);
    out.push_back(w);
    c += len;
  }
  EXPECT_EQ(c, cps.size());
  return out;
}

using V = std::vector<std::string>;

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(Split(PreTokenizerKind::kGpt2, "Hello world's 123 ok!!  \n x"),
            (V{"Hello", " world", "'s", " 123", " ok", "!!", "  \n", " x"}));
  EXPECT_EQ(Split(PreTokenizerKind::kGpt2, "I'M"), (V{"I", "'", "M"}));  // case-sensitive contractions
  EXPECT_EQ(Split(PreTokenizerKind::kGpt2, "a   "), (V{"a", "   "}));
}

// Expected splits follow the llama3 regex by hand:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
TEST(PreTokenizer, Llama3) {
  EXPECT_EQ(Split(PreTokenizerKind::kLlama3, "I'M 12345 (x)"), (V{"I", "'M", " ", "123", "45", " (", "x", ")"}));
  EXPECT_EQ(Split(PreTokenizerKind::kLlama3, "a.\n\nb"), (V{"a", ".\n\n", "b"}));
  EXPECT_EQ(Split(PreTokenizerKind::kLlama3, "x  \n  y"), (V{"x", "  \n", " ", " y"}));
  EXPECT_EQ(Split(PreTokenizerKind::kLlama3, "$héllo wörld"), (V{"$héllo", " wörld"}));
  EXPECT_EQ(Split(PreTokenizerKind::kLlama3, "end   "), (V{"end", "   "}));
}

TEST(PreTokenizer, Qwen2SplitsDigitsOneByOne) {
  EXPECT_EQ(Split(PreTokenizerKind::kQwen2, "v2024 中文"), (V{"v", "2", "0", "2", "4", " 中文"}));
}

// o200k splits words at letter-case changes with Unicode's classes: a lower-case run may follow
// an upper-case run (Hello, WORLD's), marks and Lm/Lo belong to both; numbers in threes; a run of
// punctuation takes the newlines and slashes after it.
TEST(PreTokenizer, Gpt4o) {
  const auto k = PreTokenizerKind::kGpt4o;
  EXPECT_EQ(Split(k, "HelloWORLD's x"), (V{"Hello", "WORLD's", " x"}));
  EXPECT_EQ(Split(k, "camelCaseHTTPServer"), (V{"camel", "Case", "HTTPServer"}));
  EXPECT_EQ(Split(k, "приветМир ÄBC"), (V{"привет", "Мир", " ÄBC"}));
  EXPECT_EQ(Split(k, "cafe\u0301s"), (V{"cafe\u0301s"}));  // a combining mark stays in its word
  EXPECT_EQ(Split(k, "I'M you'RE"), (V{"I'M", " you'RE"}));
  EXPECT_EQ(Split(k, "1234567 a//b!!//\r\n//c"), (V{"123", "456", "7", " a", "//", "b", "!!//\r\n//", "c"}));
  EXPECT_EQ(Split(k, "x  \n  y"), (V{"x", "  \n", " ", " y"}));
  EXPECT_EQ(Split(k, "中文English"), (V{"中文English"}));  // Lo is of both classes
}

TEST(PreTokenizer, PiecesPartitionRandomInput) {
  std::mt19937 rng(7);
  const std::vector<std::string> atoms = {"a", "Z", "é", "É", "\u0301", "ʰ", "/", "中", "1", "٣", " ", "  ", "\n", "\r\n", "\t", "'s", "'",
                                          "!", "$", "~", "…", "\xE3\x80\x80", "🦙", "\xFF", std::string(1, '\0')};
  for (PreTokenizerKind kind : {PreTokenizerKind::kDefault, PreTokenizerKind::kGpt2, PreTokenizerKind::kLlama3,
                                PreTokenizerKind::kQwen2, PreTokenizerKind::kDeepseekLlm,
                                PreTokenizerKind::kDeepseekCoder, PreTokenizerKind::kFalcon,
                                PreTokenizerKind::kStarcoder, PreTokenizerKind::kGpt4o}) {
    for (int iter = 0; iter < 200; ++iter) {
      std::string text;
      const int n = rng() % 40;
      for (int i = 0; i < n; ++i) text += atoms[rng() % atoms.size()];
      const auto cps = unicode::DecodeUtf8(text);
      size_t sum = 0;
      for (uint32_t len : PreTokenize(kind, cps)) {
        ASSERT_GT(len, 0u);
        sum += len;
      }
      ASSERT_EQ(sum, cps.size()) << PreTokenizerName(kind);
    }
  }
}

TEST(PreTokenizer, LongRunsStayOnePieceEach) {
  // Linear time on runs that a naive backtracking scan would make quadratic.
  const std::string spaces(100000, ' ');
  EXPECT_EQ(Split(PreTokenizerKind::kLlama3, spaces + "x").size(), 2u);
  EXPECT_EQ(Split(PreTokenizerKind::kDeepseekLlm, spaces + "x").size(), 2u);
  EXPECT_EQ(Split(PreTokenizerKind::kGpt2, std::string(100000, 'a')).size(), 1u);
  EXPECT_EQ(Split(PreTokenizerKind::kGpt4o, std::string(100000, 'A') + "b").size(), 1u);
  EXPECT_EQ(Split(PreTokenizerKind::kGpt4o, " " + std::string(100000, 'A')).size(), 1u);
  EXPECT_EQ(Split(PreTokenizerKind::kGpt4o, spaces + "x").size(), 2u);
}

TEST(PreTokenizer, NamesAndErrors) {
  bool ignore = false;
  auto k = ParsePreTokenizer("llama-bpe", &ignore);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, PreTokenizerKind::kLlama3);
  EXPECT_TRUE(ignore);
  k = ParsePreTokenizer("qwen2", &ignore);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, PreTokenizerKind::kQwen2);
  EXPECT_FALSE(ignore);
  k = ParsePreTokenizer("gpt-4o", &ignore);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, PreTokenizerKind::kGpt4o);
  EXPECT_TRUE(ignore);  // tiktoken and o200k's tokenizer.json look whole words up first
  auto bad = ParsePreTokenizer("tekken", &ignore);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(bad.status().message().find("'tekken'"), std::string::npos);
}

}  // namespace
}  // namespace swarmkv
