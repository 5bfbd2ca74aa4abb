#include "base/env.h"

#include <gtest/gtest.h>

#include "base/testing.h"

namespace swarmkv {
namespace {

TEST(EnvTest, AtomicWriteThenMapAndRead) {
  Env* env = Env::Default();
  std::string dir = testing::TempDir();
  ASSERT_FALSE(dir.empty());
  std::string sub = JoinPath(dir, "a/b/c");
  ASSERT_TRUE(env->CreateDirs(sub).ok());
  std::string path = JoinPath(sub, "f.bin");
  ASSERT_TRUE(env->WriteFileAtomic(path, std::string_view("hello world"), /*sync=*/true).ok());

  auto mapped = env->MapFile(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  ASSERT_EQ((*mapped)->size(), 11u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>((*mapped)->data()), 11), "hello world");
  EXPECT_EQ(*env->ReadFile(path), "hello world");

  auto names = env->ListDir(sub);
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->size(), 1u) << "temporary file left behind";
  EXPECT_EQ((*names)[0], "f.bin");

  auto info = env->Stat(path);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size_bytes, 11u);
  EXPECT_FALSE(info->is_dir);
  ASSERT_TRUE(env->DeleteFile(path).ok());
  EXPECT_FALSE(env->FileExists(path));
}

TEST(EnvTest, MissingFileIsNotFoundWithPath) {
  auto r = Env::Default()->MapFile("/nonexistent/swarmkv/x.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/swarmkv/x.gguf"), std::string::npos);
}

TEST(EnvTest, EmptyFileMaps) {
  std::string path = JoinPath(testing::TempDir(), "empty");
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, std::string_view(""), false).ok());
  auto m = Env::Default()->MapFile(path);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->size(), 0u);
}

TEST(EnvTest, JoinPath) {
  EXPECT_EQ(JoinPath("a/", "/b"), "a/b");
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

}  // namespace
}  // namespace swarmkv
