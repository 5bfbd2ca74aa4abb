// Behaviour of Tokenizer beyond llama.cpp's vectors: special tokens, BOS/EOS, round trips on the
// shared models, load errors and hostile input.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "base/testing.h"
#include "tokenizer/spm_tokenizer.h"

namespace swarmkv {
namespace {

std::unique_ptr<Tokenizer> LoadShared(const std::string& path) {
  auto tok = Tokenizer::Load(path);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

constexpr const char* kText =
    "Once upon a time, there was a little girl named Lily.\nShe said: \"Hello, world!\"  Then 42 cats ran.";

TEST(Tokenizer, SharedModelsRoundTripOrdinaryText) {
  for (const char* model : {"models/stories260K.gguf", "models/TinyStories-656K.f16.gguf",
                            "models/tinystories-656k-q8_0.gguf"}) {
    const std::string path = SKV_REQUIRE_SHARED(model);
    auto tok = LoadShared(path);
    ASSERT_NE(tok, nullptr);
    EXPECT_EQ(tok->vocab().model(), TokenizerModel::kSpm);
    const auto ids = tok->Encode(kText);
    ASSERT_GE(ids.size(), 10u);
    EXPECT_EQ(ids[0], tok->vocab().bos()) << model;
    auto text = tok->Decode(ids);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, kText) << model;
  }
}

TEST(Tokenizer, Stories260KKnownIds) {
  // " Once upon a time" is the start of stories260K's reference output; encoding its text must
  // give back ids that decode to it, with BOS (1) first as the model asks.
  const std::string path = SKV_REQUIRE_SHARED("models/stories260K.gguf");
  auto tok = LoadShared(path);
  ASSERT_NE(tok, nullptr);
  const auto ids = tok->Encode("Once upon a time");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(tok->Encode("Once upon a time", {.add_special = false}),
            std::vector<int32_t>(ids.begin() + 1, ids.end()));
}

TEST(Tokenizer, BpeSpecialTokensOnlyWhenParsed) {
  const std::string path = SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-gpt-2.gguf");
  auto tok = LoadShared(path);
  ASSERT_NE(tok, nullptr);
  const int32_t eot = tok->vocab().Find("<|endoftext|>");
  ASSERT_GE(eot, 0);
  const auto parsed = tok->Encode("a<|endoftext|>b", {.add_special = false, .parse_special = true});
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[1], eot);
  const auto plain = tok->Encode("a<|endoftext|>b", {.add_special = false, .parse_special = false});
  EXPECT_GT(plain.size(), 3u);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
  EXPECT_TRUE(tok->vocab().IsEog(eot));
  EXPECT_FALSE(tok->vocab().IsEog(parsed[0]));
  auto back = tok->Decode(plain);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "a<|endoftext|>b");
  // Rendered control tokens come back only when asked.
  EXPECT_EQ(*tok->Decode(parsed), "ab");
  EXPECT_EQ(*tok->Decode(parsed, {.render_special = true}), "a<|endoftext|>b");
}

TEST(Tokenizer, SpmSpecialTokensAndSpacePrefix) {
  const std::string path = SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-phi-3.gguf");
  auto tok = LoadShared(path);
  ASSERT_NE(tok, nullptr);
  const int32_t user = tok->vocab().Find("<|user|>");
  const int32_t end = tok->vocab().Find("<|end|>");
  ASSERT_GE(user, 0);
  ASSERT_GE(end, 0);
  const auto ids = tok->Encode("<|user|>\nHi<|end|>", {.add_special = false, .parse_special = true});
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), user);
  EXPECT_EQ(ids.back(), end);
  // phi-3 special tokens strip the white space after them (llama.cpp's rstrip rule), and text
  // after a special token gets the SPM space prefix again.
  EXPECT_EQ(tok->Encode("<|user|>\nHi", {.add_special = false, .parse_special = true}),
            tok->Encode("<|user|>Hi", {.add_special = false, .parse_special = true}));
  EXPECT_EQ(tok->Encode("Hi", {.add_special = false}),
            std::vector<int32_t>(ids.begin() + 1, ids.end() - 1));
}

TEST(Tokenizer, LongestSpecialTokenWins) {
  VocabData d;
  d.model = "gpt2";
  d.pre = "gpt-2";
  std::string chars;
  for (int b = 0x21; b <= 0x7E; ++b) d.tokens.push_back(std::string(1, static_cast<char>(b)));
  d.tokens.push_back("<|a|>");
  d.tokens.push_back("<|a|><|b|>");
  d.types.assign(d.tokens.size(), 1);
  d.types[d.tokens.size() - 2] = 3;
  d.types[d.tokens.size() - 1] = 3;
  d.merges = {"< |"};
  auto vocab = Vocab::Create(d);
  ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
  auto tok = Tokenizer::Create(*vocab);
  ASSERT_TRUE(tok.ok());
  const int32_t ab = static_cast<int32_t>(d.tokens.size() - 1);
  const int32_t a = ab - 1;
  EXPECT_EQ((*tok)->Encode("<|a|><|b|><|a|>", {.add_special = false, .parse_special = true}),
            (std::vector<int32_t>{ab, a}));
}

TEST(Tokenizer, LoadErrorsAreClear) {
  VocabData d;
  d.model = "gpt2";
  d.tokens = {"a", "b"};
  auto no_merges = Vocab::Create(d);
  ASSERT_FALSE(no_merges.ok());
  EXPECT_NE(no_merges.status().message().find("merges"), std::string::npos) << no_merges.status().ToString();

  d.model = "rwkv";
  auto unknown = Vocab::Create(d);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(unknown.status().message().find("'rwkv'"), std::string::npos);

  d.model = "llama";
  d.scores = {1.0f};
  auto short_scores = Vocab::Create(d);
  ASSERT_FALSE(short_scores.ok());
  EXPECT_NE(short_scores.status().message().find("scores"), std::string::npos);

  d.model = "gpt2";
  d.scores.clear();
  d.merges = {"ab"};
  auto bad_merge = Vocab::Create(d);
  ASSERT_FALSE(bad_merge.ok());
  EXPECT_NE(bad_merge.status().message().find("merge #0"), std::string::npos);

  auto missing = Tokenizer::Load("/nonexistent/model.gguf");
  EXPECT_FALSE(missing.ok());
}

TEST(Tokenizer, DecodeRejectsIdsOutsideTheVocabulary) {
  const std::string path = SKV_REQUIRE_SHARED("models/stories260K.gguf");
  auto tok = LoadShared(path);
  ASSERT_NE(tok, nullptr);
  std::vector<int32_t> ids = {5, 512};
  auto r = tok->Decode(ids);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("512"), std::string::npos);
  EXPECT_FALSE(tok->TokenToPiece(-1).ok());
}

// Hostile input: never a crash, and the result still describes the input (round trip where the
// input is valid UTF-8). Sizes stay ~100 KB so the test is fast; the 1 MB+ timing is in bench/.
TEST(Tokenizer, HostileInput) {
  const std::string spm_path = SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-llama-spm.gguf");
  const std::string bpe_path = SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-gpt-2.gguf");
  for (const std::string& path : {spm_path, bpe_path}) {
    auto tok = LoadShared(path);
    ASSERT_NE(tok, nullptr);
    const EncodeOptions opts{.add_special = false, .parse_special = true};

    const std::string repeated(100000, 'a');
    auto ids = tok->Encode(repeated, opts);
    EXPECT_LT(ids.size(), repeated.size() / 2);  // merged, not one id per byte
    EXPECT_TRUE(*tok->Decode(ids) == repeated);

    std::string nul("ab\0cd\0", 6);
    ids = tok->Encode(nul, opts);
    EXPECT_EQ(*tok->Decode(ids), nul) << path;

    // Invalid UTF-8: BPE reads it as U+FFFD (llama.cpp's unicode_cpts_from_utf8); SPM keeps the
    // raw bytes as byte tokens. Both exactly as llama.cpp.
    ids = tok->Encode("x\xFF\xC3y", opts);
    if (tok->vocab().model() == TokenizerModel::kBpe) {
      EXPECT_EQ(*tok->Decode(ids), "x\xEF\xBF\xBD\xEF\xBF\xBDy");
    } else {
      EXPECT_EQ(*tok->Decode(ids), "x\xFF\xC3y");
    }

    std::string lookalikes;
    while (lookalikes.size() < 100000) lookalikes += "<|endoftext|<|endoftext<s</s><|im_start";
    const EncodeOptions plain{.add_special = false, .parse_special = false};
    ids = tok->Encode(lookalikes, plain);
    EXPECT_TRUE(*tok->Decode(ids) == lookalikes) << path;
    // Parsed, every whole "</s>" (SPM) is one control token; the rest stays text.
    ids = tok->Encode(lookalikes, opts);
    const int32_t eos = tok->vocab().Find("</s>");
    if (eos >= 0) EXPECT_EQ(std::count(ids.begin(), ids.end(), eos), static_cast<long>(lookalikes.size() / 39));

    std::string emoji;
    while (emoji.size() < 100000) emoji += "🦙é中\u3000";
    ids = tok->Encode(emoji, opts);
    EXPECT_TRUE(*tok->Decode(ids) == emoji) << path;
  }
}

// SPM merges long texts in segments cut where no token spans; the ids must equal merging the
// whole text at once (segment size past the text's length).
TEST(Tokenizer, SpmSegmentsGiveTheSameIdsAsOneSequence) {
  const std::string path = SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-llama-spm.gguf");
  auto vocab = Vocab::Load(path);
  ASSERT_TRUE(vocab.ok());
  auto whole = NewSpmTokenizer(*vocab, size_t{1} << 30);
  auto small = NewSpmTokenizer(*vocab, 16);
  std::string text;
  for (int i = 0; i < 300; ++i) {
    text += std::string(kText) + "  multiple   spaces\n\t" + std::to_string(i * 7919) + " Привет 中文 🦙 ";
  }
  const EncodeOptions opts{.add_special = false};
  const auto a = whole->Encode(text, opts);
  const auto b = small->Encode(text, opts);
  EXPECT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b);
}

TEST(Tokenizer, ConcurrentEncodeIsDeterministic) {
  const std::string path = SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-gpt-2.gguf");
  auto tok = LoadShared(path);
  ASSERT_NE(tok, nullptr);
  const auto want = tok->Encode(kText);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) mismatches += tok->Encode(kText) != want;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace swarmkv
