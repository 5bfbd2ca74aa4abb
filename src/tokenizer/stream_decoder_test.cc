#include "tokenizer/stream_decoder.h"

#include <gtest/gtest.h>

#include "base/testing.h"

namespace swarmkv {
namespace {

TEST(SanitizeUtf8, HoldsBackIncompleteAndReplacesInvalid) {
  std::string out;
  EXPECT_EQ(AppendSanitizedUtf8("ab\xF0\x9F", false, &out), 2u);
  EXPECT_EQ(out, "ab");
  out.clear();
  EXPECT_EQ(AppendSanitizedUtf8("a\xFF" "b\xC3(" "\xE0\x80\x80", false, &out), 0u);
  // 0xFF, then C3 without continuation, then E0 80 (overlong lead+second) and a stray 80.
  EXPECT_EQ(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD(" "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  out.clear();
  EXPECT_EQ(AppendSanitizedUtf8("\xE2\x82", true, &out), 0u);
  EXPECT_EQ(out, "\xEF\xBF\xBD");
}

TEST(StreamDecoder, CharacterSplitAcrossTokensStreamsWhole) {
  const std::string path = SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-llama-spm.gguf");
  auto tok = Tokenizer::Load(path);
  ASSERT_TRUE(tok.ok());
  // 🦙 is not in the SPM vocabulary: it becomes four byte tokens <0xF0> <0x9F> <0xA6> <0x99>.
  const std::string text = "I like 🦙 and 中文.";
  const auto ids = (*tok)->Encode(text, {.add_special = true});
  StreamDecoder dec(**tok);
  std::string streamed;
  int empty_pushes = 0;
  for (int32_t id : ids) {
    auto piece = dec.Push(id);
    ASSERT_TRUE(piece.ok());
    EXPECT_TRUE(piece->empty() || piece->back() != '\xF0');
    empty_pushes += piece->empty();
    streamed += *piece;
    EXPECT_LT(dec.pending_bytes(), 4u);
  }
  streamed += dec.Finish();
  EXPECT_EQ(streamed, text);
  EXPECT_GE(empty_pushes, 3);  // BOS, and the first three bytes of the llama were held back
}

TEST(StreamDecoder, BpeBytesAndInvalidSequences) {
  const std::string path = SKV_REQUIRE_SHARED("llamacpp-data/vocab/ggml-vocab-gpt-2.gguf");
  auto tok = Tokenizer::Load(path);
  ASSERT_TRUE(tok.ok());
  const std::string text = "naïve café 🦙🦙 ok";
  StreamDecoder dec(**tok);
  std::string streamed;
  for (int32_t id : (*tok)->Encode(text)) streamed += *dec.Push(id);
  streamed += dec.Finish();
  EXPECT_EQ(streamed, text);

  // A truncated character at the end of a generation becomes U+FFFD on Finish.
  StreamDecoder cut(**tok);
  EXPECT_EQ(cut.PushBytes("ok\xF0\x9F"), "ok");
  EXPECT_EQ(cut.Finish(), "\xEF\xBF\xBD");
  EXPECT_FALSE(cut.Push(-5).ok());
}

}  // namespace
}  // namespace swarmkv
