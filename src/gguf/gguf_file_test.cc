#include "gguf/gguf_file.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/testing.h"
#include "gguf/gguf_test_util.h"

namespace swarmkv {
namespace {

using testing::GgufBytes;

// A valid v3 file: 3 keys (string, u32 array, nested array of strings), tensors "a" f32 [4] at 0
// and "b" f32 [8,2] at 32, 32-byte alignment.
GgufBytes ValidFile(uint32_t version = 3) {
  GgufBytes b;
  b.Header(version, 2, 3);
  b.Str("general.architecture").U32(8).Str("llama");
  b.Str("ids").U32(9).U32(4).U64(3).U32(7).U32(8).U32(9);
  b.Str("nested").U32(9).U32(9).U64(2);
  b.U32(8).U64(2).Str("x").Str("yz");
  b.U32(8).U64(0);
  b.Tensor("a", {4}, 0, 0);
  b.Tensor("b", {8, 2}, 0, 32);
  b.PadTo(32);
  for (int i = 0; i < 8; ++i) b.F32(i < 4 ? float(i) : 0.f);  // a + padding to 32
  for (int i = 0; i < 16; ++i) b.F32(100.f + i);
  return b;
}

Result<std::unique_ptr<GgufFile>> Parse(const GgufBytes& b) { return GgufFile::FromBuffer(b.bytes); }

void ExpectError(const GgufBytes& b, StatusCode code, std::string_view needle) {
  auto f = Parse(b);
  ASSERT_FALSE(f.ok()) << "expected an error containing '" << needle << "'";
  EXPECT_EQ(f.status().code(), code) << f.status().ToString();
  EXPECT_NE(f.status().message().find(needle), std::string::npos) << f.status().ToString();
}

TEST(GgufFileTest, ParsesValidFileV2AndV3) {
  for (uint32_t version : {2u, 3u}) {
    GgufBytes b = ValidFile(version);
    auto f = Parse(b);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    const GgufFile& g = **f;
    EXPECT_EQ(g.version(), version);
    EXPECT_EQ(g.alignment(), 32u);
    ASSERT_EQ(g.metadata().size(), 3u);
    EXPECT_EQ(g.metadata()[0].first, "general.architecture");
    EXPECT_EQ(g.GetString("general.architecture").value(), "llama");
    EXPECT_EQ(g.GetI32Array("ids").value(), (std::vector<int32_t>{7, 8, 9}));
    const GgufValue* nested = g.Find("nested");
    ASSERT_NE(nested, nullptr);
    auto outer = nested->ArrayElements();
    ASSERT_EQ(outer.size(), 2u);
    ASSERT_EQ(outer[0].array_size(), 2u);
    EXPECT_EQ(outer[0].ArrayElements()[1].AsString(), "yz");
    EXPECT_EQ(outer[1].array_size(), 0u);
    ASSERT_EQ(g.tensors().size(), 2u);
    const GgufTensorInfo* t = g.FindTensor("b");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->shape, (std::vector<uint64_t>{8, 2}));
    EXPECT_EQ(t->num_elements, 16u);
    EXPECT_EQ(t->size_bytes, 64u);
    float first;
    std::memcpy(&first, t->data, 4);
    EXPECT_EQ(first, 100.f);
    EXPECT_EQ(g.FindTensor("nope"), nullptr);
  }
}

TEST(GgufFileTest, TypedGetters) {
  GgufBytes b;
  b.Header(3, 0, 7);
  b.Str("u8").U32(0).U8(200);
  b.Str("neg").U32(5).U32(static_cast<uint32_t>(-5));
  b.Str("big").U32(10).U64(1ull << 40);
  b.Str("f").U32(6).F32(1.5f);
  b.Str("flag").U32(7).U8(1);
  b.Str("s").U32(8).Str("hi");
  b.Str("fa").U32(9).U32(6).U64(2).F32(0.5f).F32(-2.f);
  auto f = Parse(b);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufFile& g = **f;
  EXPECT_EQ(g.GetU32("u8").value(), 200u);  // any integer type that fits
  EXPECT_EQ(g.GetI32("u8").value(), 200);
  EXPECT_EQ(g.GetI32("neg").value(), -5);
  EXPECT_EQ(g.GetU64("big").value(), 1ull << 40);
  EXPECT_EQ(g.GetF32("f").value(), 1.5f);
  EXPECT_TRUE(g.GetBool("flag").value());
  EXPECT_EQ(g.GetF32Array("fa").value(), (std::vector<float>{0.5f, -2.f}));
  EXPECT_EQ(g.GetU32("missing").status().code(), StatusCode::kNotFound);
  auto neg = g.GetU32("neg");
  EXPECT_EQ(neg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(g.GetU32("big").status().code(), StatusCode::kInvalidArgument);  // does not fit
  auto wrong = g.GetU32("s");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("'s' is string"), std::string::npos) << wrong.status().ToString();
  EXPECT_EQ(g.GetString("f").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(g.GetStringArray("fa").status().code(), StatusCode::kInvalidArgument);
}

TEST(GgufFileTest, EveryTruncationIsAnError) {
  GgufBytes full = ValidFile();
  ASSERT_TRUE(Parse(full).ok());
  for (size_t n = 0; n < full.bytes.size(); ++n) {
    GgufBytes cut;
    cut.bytes.assign(full.bytes.begin(), full.bytes.begin() + n);
    auto f = Parse(cut);
    EXPECT_FALSE(f.ok()) << "prefix of " << n << " bytes parsed";
    if (!f.ok()) {
      EXPECT_EQ(f.status().code(), StatusCode::kCorruption) << f.status().ToString();
    }
  }
}

TEST(GgufFileTest, WrongMagic) {
  GgufBytes b = ValidFile();
  b.bytes[0] = 'X';
  ExpectError(b, StatusCode::kCorruption, "bad magic");
}

TEST(GgufFileTest, UnknownVersions) {
  ExpectError(ValidFile(4), StatusCode::kCorruption, "unknown GGUF version 4");
  ExpectError(ValidFile(0x03000000), StatusCode::kCorruption, "big-endian");
  ExpectError(ValidFile(1), StatusCode::kUnimplemented, "version 1");
}

TEST(GgufFileTest, AbsurdCounts) {
  GgufBytes b;
  b.Header(3, 0, 1ull << 60);
  ExpectError(b, StatusCode::kCorruption, "metadata count");
  GgufBytes t;
  t.Header(3, ~0ull, 0);
  ExpectError(t, StatusCode::kCorruption, "tensor count");
  GgufBytes a;
  a.Header(3, 0, 1).Str("arr").U32(9).U32(4).U64(1ull << 61);
  ExpectError(a, StatusCode::kCorruption, "cannot fit");
  GgufBytes sa;
  sa.Header(3, 0, 1).Str("arr").U32(9).U32(8).U64(1ull << 40);
  ExpectError(sa, StatusCode::kCorruption, "metadata key 'arr'");
}

TEST(GgufFileTest, AbsurdStringLengths) {
  GgufBytes k;
  k.Header(3, 0, 1).U64(~0ull).Raw("abcdefghijklmnop", 16);
  ExpectError(k, StatusCode::kCorruption, "string length");
  GgufBytes v;
  v.Header(3, 0, 1).Str("key").U32(8).U64(1ull << 62).Raw("abc", 3);
  ExpectError(v, StatusCode::kCorruption, "metadata key 'key'");
  GgufBytes n;
  n.Header(3, 1, 0).U64(1000).Raw("abc", 3).Raw("0123456789012345678901234", 24);
  ExpectError(n, StatusCode::kCorruption, "name of tensor 0");
}

TEST(GgufFileTest, UnknownValueTypeAndDeepNesting) {
  GgufBytes b;
  b.Header(3, 0, 1).Str("k").U32(13).U64(0);
  ExpectError(b, StatusCode::kCorruption, "unknown value type 13");
  GgufBytes d;
  d.Header(3, 0, 1).Str("deep").U32(9);
  for (int i = 0; i < 20; ++i) d.U32(9).U64(1);
  d.U32(4).U64(0);
  ExpectError(d, StatusCode::kCorruption, "nested deeper");
}

TEST(GgufFileTest, DuplicateKeysAndTensors) {
  GgufBytes b;
  b.Header(3, 0, 2).Str("k").U32(4).U32(1).Str("k").U32(4).U32(2);
  ExpectError(b, StatusCode::kCorruption, "duplicate metadata key 'k'");
  GgufBytes t;
  t.Header(3, 2, 0).Tensor("w", {4}, 0, 0).Tensor("w", {4}, 0, 32).PadTo(32);
  for (int i = 0; i < 16; ++i) t.F32(0);
  ExpectError(t, StatusCode::kCorruption, "duplicate tensor name 'w'");
}

TEST(GgufFileTest, BadAlignment) {
  GgufBytes b;
  b.Header(3, 0, 1).Str("general.alignment").U32(4).U32(48);
  ExpectError(b, StatusCode::kCorruption, "power-of-two");
  GgufBytes s;
  s.Header(3, 0, 1).Str("general.alignment").U32(8).Str("32");
  ExpectError(s, StatusCode::kCorruption, "general.alignment");
}

TEST(GgufFileTest, CustomAlignmentIsHonoured) {
  GgufBytes b;
  b.Header(3, 1, 1).Str("general.alignment").U32(4).U32(64).Tensor("w", {2}, 0, 0).PadTo(64).F32(1).F32(2);
  auto f = Parse(b);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->data_offset() % 64, 0u);
}

TEST(GgufFileTest, TensorOffsetPastEnd) {
  GgufBytes b;
  b.Header(3, 1, 0).Tensor("w", {4}, 0, 1ull << 40).PadTo(32);
  for (int i = 0; i < 4; ++i) b.F32(0);
  ExpectError(b, StatusCode::kCorruption, "tensor 'w' data");
  GgufBytes big;
  big.Header(3, 1, 0).Tensor("w", {1ull << 30, 1ull << 20}, 0, 0).PadTo(32);
  ExpectError(big, StatusCode::kCorruption, "runs past the end");
  GgufBytes overflow;
  overflow.Header(3, 1, 0).Tensor("w", {1ull << 40, 1ull << 40}, 0, 0).PadTo(32);
  ExpectError(overflow, StatusCode::kCorruption, "overflows");
}

TEST(GgufFileTest, MisalignedAndOverlappingTensors) {
  GgufBytes m;
  m.Header(3, 1, 0).Tensor("w", {4}, 0, 4).PadTo(32);
  for (int i = 0; i < 8; ++i) m.F32(0);
  ExpectError(m, StatusCode::kCorruption, "not a multiple of the alignment");
  GgufBytes o;
  o.Header(3, 2, 0).Tensor("a", {16}, 0, 0).Tensor("b", {16}, 0, 32).PadTo(32);
  for (int i = 0; i < 32; ++i) o.F32(0);
  ExpectError(o, StatusCode::kCorruption, "overlaps tensor 'a'");
}

TEST(GgufFileTest, BadDimensionsAndBlockSize) {
  GgufBytes d;
  d.Header(3, 1, 0).Tensor("w", {1, 1, 1, 1, 1}, 0, 0).PadTo(32).F32(0);
  ExpectError(d, StatusCode::kCorruption, "5 dimensions");
  GgufBytes z;
  z.Header(3, 1, 0).Tensor("w", {}, 0, 0).PadTo(32).F32(0);
  ExpectError(z, StatusCode::kCorruption, "0 dimensions");
  GgufBytes q;
  q.Header(3, 1, 0).Tensor("w", {31}, 8, 0).PadTo(32);
  for (int i = 0; i < 16; ++i) q.F32(0);
  ExpectError(q, StatusCode::kCorruption, "block size 32");
}

TEST(GgufFileTest, UnknownTensorTypeLoadsMetadata) {
  GgufBytes b;
  b.Header(3, 2, 1).Str("general.architecture").U32(8).Str("llama");
  b.Tensor("odd", {4}, 99, 0).Tensor("w", {4}, 0, 32).PadTo(32);
  for (int i = 0; i < 12; ++i) b.F32(1);
  auto f = Parse(b);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufTensorInfo* odd = (*f)->FindTensor("odd");
  ASSERT_NE(odd, nullptr);
  EXPECT_FALSE(odd->type_known);
  EXPECT_EQ(odd->size_bytes, 0u);
  EXPECT_TRUE((*f)->FindTensor("w")->type_known);
  EXPECT_EQ(TensorTypeName(odd->type_id), "type#99");
}

TEST(GgufFileTest, EmptyBufferAndNoTensors) {
  GgufBytes empty;
  ExpectError(empty, StatusCode::kCorruption, "truncated magic");
  GgufBytes b;
  b.Header(3, 0, 0);
  auto f = Parse(b);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE((*f)->tensors().empty());
}

TEST(GgufFileTest, OpenMissingFileIsIOError) {
  auto f = GgufFile::Open(testing::TempDir() + "/missing.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("missing.gguf"), std::string::npos);
}

TEST(GgufFileTest, DebugStringAbbreviatesArrays) {
  GgufBytes b;
  b.Header(3, 0, 1).Str("ids").U32(9).U32(4).U64(100);
  for (uint32_t i = 0; i < 100; ++i) b.U32(i);
  auto f = Parse(b);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Find("ids")->DebugString(3), "[0, 1, 2, ... (100 items)]");
}

TEST(GgufFileTest, OpensSharedModels) {
  struct Case {
    const char* file;
    size_t tensors;
    uint32_t type;
  };
  for (const Case& c : {Case{"models/stories260K.gguf", 48, 0}, Case{"models/TinyStories-656K.f16.gguf", 20, 1},
                        Case{"models/tinystories-656k-q8_0.gguf", 20, 8}}) {
    std::string path = SKV_REQUIRE_SHARED(c.file);
    auto f = GgufFile::Open(path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ((*f)->version(), 3u);
    EXPECT_EQ((*f)->GetString("general.architecture").value(), "llama");
    EXPECT_EQ((*f)->tensors().size(), c.tensors) << c.file;
    size_t of_type = 0;
    for (const auto& t : (*f)->tensors()) of_type += t.type_id == c.type;
    EXPECT_GE(of_type, 15u) << c.file;
    auto tokens = (*f)->GetStringArray("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
    EXPECT_GE(tokens->size(), 512u);
  }
}

}  // namespace
}  // namespace swarmkv
