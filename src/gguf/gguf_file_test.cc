#include "gguf/gguf_file.h"

#include <gtest/gtest.h>

#include "base/testing.h"

namespace swarmkv {
namespace {

TEST(GgufFileTest, OpensSharedModel) {
  std::string path = SKV_REQUIRE_SHARED("models/stories260K.gguf");
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->version(), 3u);
  EXPECT_EQ((*f)->GetString("general.architecture").value(), "llama");
  EXPECT_EQ((*f)->tensors().size(), 48u);
  auto tokens = (*f)->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(tokens->size(), 512u);
}

}  // namespace
}  // namespace swarmkv
