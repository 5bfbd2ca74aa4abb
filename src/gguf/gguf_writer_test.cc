#include "gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/testing.h"
#include "gguf/gguf_file.h"

namespace swarmkv {
namespace {

// Copies every key and tensor of `src` into a new file and checks the copy is identical.
void ExpectRoundTrip(const GgufFile& src, const std::string& out_path) {
  GgufWriter w;
  for (const auto& [key, value] : src.metadata()) w.SetValue(key, value);
  for (const auto& t : src.tensors()) ASSERT_TRUE(w.AddTensor(t.name, t.type_id, t.shape).ok());
  Status s = w.Write(out_path, [&](size_t i, const GgufWriterTensor& t, GgufTensorSink& sink) {
    const GgufTensorInfo& in = src.tensors()[i];
    // Deliver in two pieces to exercise streaming.
    size_t half = in.size_bytes / 2;
    SKV_RETURN_IF_ERROR(sink.Append({in.data, half}));
    return sink.Append({in.data + half, in.size_bytes - half});
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto copy = GgufFile::Open(out_path);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  const GgufFile& c = **copy;
  EXPECT_EQ(c.version(), 3u);
  ASSERT_EQ(c.metadata().size(), src.metadata().size());
  for (size_t i = 0; i < src.metadata().size(); ++i) {
    const auto& [k1, v1] = src.metadata()[i];
    const auto& [k2, v2] = c.metadata()[i];
    EXPECT_EQ(k1, k2);
    EXPECT_EQ(v1.type(), v2.type()) << k1;
    EXPECT_EQ(v1.DebugString(1u << 20), v2.DebugString(1u << 20)) << k1;
  }
  ASSERT_EQ(c.tensors().size(), src.tensors().size());
  for (size_t i = 0; i < src.tensors().size(); ++i) {
    const auto& a = src.tensors()[i];
    const auto& b = c.tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.type_id, b.type_id);
    EXPECT_EQ(a.shape, b.shape);
    ASSERT_EQ(a.size_bytes, b.size_bytes);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.size_bytes), 0) << a.name;
  }
}

TEST(GgufWriterTest, RoundTripEveryValueType) {
  std::string dir = testing::TempDir();
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetU8("u8", 7);
  w.SetU32("u32", 123456);
  w.SetI32("i32", -42);
  w.SetU64("u64", 1ull << 50);
  w.SetF32("f32", 0.25f);
  w.SetBool("b", true);
  w.SetStringArray("strs", {"a", "", "ünïcode"});
  std::vector<float> fs = {1.f, -2.5f};
  w.SetF32Array("fs", fs);
  std::vector<int32_t> is = {3, -4, 5};
  w.SetI32Array("is", is);
  ASSERT_TRUE(w.AddTensor("w", 0, {3, 2}).ok());  // 24 bytes: not a multiple of 32 → padding
  ASSERT_TRUE(w.AddTensor("q", 8, {64}).ok());    // q8_0: 2 blocks of 34 bytes
  std::string path = dir + "/all.gguf";
  Status s = w.Write(path, [](size_t i, const GgufWriterTensor& t, GgufTensorSink& sink) {
    std::vector<uint8_t> bytes(t.size_bytes);
    for (size_t j = 0; j < bytes.size(); ++j) bytes[j] = static_cast<uint8_t>(j * 7 + i);
    return sink.Append(bytes);
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufFile& g = **f;
  EXPECT_EQ(g.GetU32("u32").value(), 123456u);
  EXPECT_EQ(g.Find("u8")->type(), GgufValueType::kU8);
  EXPECT_EQ(g.GetI32("i32").value(), -42);
  EXPECT_EQ(g.GetU64("u64").value(), 1ull << 50);
  EXPECT_EQ(g.GetF32("f32").value(), 0.25f);
  EXPECT_TRUE(g.GetBool("b").value());
  EXPECT_EQ(g.GetStringArray("strs").value(), (std::vector<std::string_view>{"a", "", "ünïcode"}));
  EXPECT_EQ(g.GetF32Array("fs").value(), fs);
  EXPECT_EQ(g.GetI32Array("is").value(), is);
  ASSERT_EQ(g.tensors().size(), 2u);
  EXPECT_EQ(g.tensors()[1].offset, 32u);
  EXPECT_EQ(g.tensors()[1].size_bytes, 68u);
  EXPECT_EQ(g.tensors()[1].data[5], static_cast<uint8_t>(5 * 7 + 1));
  // And a second generation copies it exactly.
  ExpectRoundTrip(g, dir + "/copy.gguf");
}

TEST(GgufWriterTest, RoundTripSharedModels) {
  for (const char* rel : {"models/stories260K.gguf", "models/tinystories-656k-q8_0.gguf"}) {
    std::string path = SKV_REQUIRE_SHARED(rel);
    auto src = GgufFile::Open(path);
    ASSERT_TRUE(src.ok()) << src.status().ToString();
    ExpectRoundTrip(**src, testing::TempDir() + "/copy.gguf");
  }
}

TEST(GgufWriterTest, CustomAlignment) {
  GgufWriter w;
  w.SetU32("general.alignment", 256);
  ASSERT_TRUE(w.AddTensor("a", 0, {3}).ok());
  ASSERT_TRUE(w.AddTensor("b", 0, {3}).ok());
  std::string path = testing::TempDir() + "/aligned.gguf";
  ASSERT_TRUE(w.Write(path, [](size_t, const GgufWriterTensor& t, GgufTensorSink& sink) {
                 std::vector<uint8_t> z(t.size_bytes, 1);
                 return sink.Append(z);
               }).ok());
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->alignment(), 256u);
  EXPECT_EQ((*f)->data_offset() % 256, 0u);
  EXPECT_EQ((*f)->tensors()[1].offset, 256u);
}

TEST(GgufWriterTest, Errors) {
  GgufWriter w;
  EXPECT_EQ(w.AddTensor("x", 99, {4}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("x", 8, {31}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.AddTensor("x", 0, {}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(w.AddTensor("x", 0, {4}).ok());
  EXPECT_EQ(w.AddTensor("x", 0, {4}).code(), StatusCode::kInvalidArgument);
  std::string dir = testing::TempDir();
  // Too few bytes: error, and no file left behind.
  Status s = w.Write(dir + "/short.gguf", [](size_t, const GgufWriterTensor&, GgufTensorSink& sink) {
    uint8_t b[3] = {};
    return sink.Append(b);
  });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Env::Default()->FileExists(dir + "/short.gguf"));
  EXPECT_FALSE(Env::Default()->FileExists(dir + "/short.gguf.tmp"));
  // Too many bytes.
  s = w.Write(dir + "/long.gguf", [](size_t, const GgufWriterTensor&, GgufTensorSink& sink) {
    uint8_t b[17] = {};
    return sink.Append(b);
  });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  // Duplicate key.
  GgufWriter d;
  d.SetU32("k", 1);
  d.SetU32("k", 2);
  EXPECT_EQ(d.Write(dir + "/dup.gguf", nullptr).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace swarmkv
