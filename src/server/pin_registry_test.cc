// PinRegistry on real temp files: records survive a reopen; every malformed or oversized file is a
// clear error naming what is wrong, never a crash or a partly applied file.
#include "server/pin_registry.h"

#include <gtest/gtest.h>

#include "base/testing.h"

namespace swarmkv {
namespace {

PinRecord Rec(const std::string& model, const std::string& name, int n, int64_t expires = 0) {
  PinRecord r;
  r.model = model;
  r.name = name;
  r.digest = "sha256:abc";
  r.namespace_id = "00ff";
  for (int i = 0; i < n; ++i) r.tokens.push_back(i * 3 + 1);
  r.created_unix_ms = 1000;
  r.expires_unix_ms = expires;
  return r;
}

std::string Path() { return testing::TempDir("pin-registry") + "/pins.json"; }

TEST(PinRegistryTest, RecordsSurviveAReopenAndNamesArePerModel) {
  const std::string path = Path();
  {
    auto reg = PinRegistry::Open({.path = path});
    ASSERT_TRUE(reg.ok()) << reg.status().ToString();
    ASSERT_TRUE((*reg)->Put(Rec("a:latest", "code", 100)).ok());
    ASSERT_TRUE((*reg)->Put(Rec("b:latest", "code", 50, 5000)).ok());
    ASSERT_TRUE((*reg)->Put(Rec("a:latest", "code", 70)).ok());  // replaces a's, not b's
    ASSERT_EQ((*reg)->List().size(), 2u);
  }
  auto reg = PinRegistry::Open({.path = path});
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  auto a = (*reg)->Find("a:latest", "code");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->tokens, Rec("a", "x", 70).tokens);
  EXPECT_EQ(a->digest, "sha256:abc");
  EXPECT_EQ(a->namespace_id, "00ff");
  EXPECT_EQ((*reg)->DropExpired(4999), 0);
  EXPECT_EQ((*reg)->DropExpired(5000), 1);
  EXPECT_FALSE((*reg)->Find("b:latest", "code").has_value());
  EXPECT_EQ((*reg)->Remove("a:latest", "nope").code(), StatusCode::kNotFound);
  ASSERT_TRUE((*reg)->Remove("a:latest", "code").ok());
  auto again = PinRegistry::Open({.path = path});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->List().empty());
}

TEST(PinRegistryTest, BoundsAreEnforcedOnPut) {
  PinRegistryOptions o{.path = Path(), .max_pins = 2, .max_tokens = 10};
  auto reg = PinRegistry::Open(o);
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ((*reg)->Put(Rec("m", "big", 11)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*reg)->Put(Rec("m", "", 3)).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE((*reg)->Put(Rec("m", "1", 3)).ok());
  ASSERT_TRUE((*reg)->Put(Rec("m", "2", 3)).ok());
  Status s = (*reg)->Put(Rec("m", "3", 3));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE((*reg)->Put(Rec("m", "2", 4)).ok()) << "replacing is not adding";
}

TEST(PinRegistryTest, TamperedFilesAreClearErrors) {
  PinRegistryOptions limits{.max_pins = 2, .max_tokens = 4, .max_name_bytes = 12, .max_file_bytes = 4096};
  const std::string good = PinRegistry::Serialize({Rec("m", "p", 3)});
  ASSERT_TRUE(PinRegistry::Parse(good, limits).ok()) << good;
  struct Case {
    std::string text;
    std::string says;
  } cases[] = {
      {"", "not a JSON object"},
      {"[1,2]", "not a JSON object"},
      {R"({"format":"other","version":1,"pins":[]})", "format"},
      {R"({"format":"swarmkv-pins","version":2,"pins":[]})", "version"},
      {R"({"format":"swarmkv-pins","version":1,"pins":{}})", "'pins' must be an array"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[1]})", "record 0: not a JSON object"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"name":"p","tokens":[1]}]})", "'model' is missing"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"m","name":"averyveryverylongname","tokens":[1]}]})", "'name' is 21 bytes"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"m","name":"p","tokens":[1,2,3,4,5]}]})", "5 tokens (limit 4)"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"m","name":"p","tokens":[1,-2]}]})", "token 1 is not a token id"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"m","name":"p","tokens":[1,4294967296]}]})", "token 1"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"m","name":"p","tokens":["1"]}]})", "token 0"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"m","name":"p","tokens":[]}]})", "'tokens' is empty"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"m","name":"p","tokens":[1],"expires_at_ms":-5}]})", "expires_at_ms"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"m","name":"p","tokens":[1]},{"model":"m","name":"p","tokens":[2]}]})", "a second pin"},
      {R"({"format":"swarmkv-pins","version":1,"pins":[{"model":"m","name":"p","tokens":[1]},{"model":"m","name":"q","tokens":[1]},{"model":"m","name":"r","tokens":[1]}]})", "3 pins (limit 2)"},
      {std::string(5000, ' '), "5000 bytes (limit 4096)"},
      {std::string(1000, '[') + std::string(1000, ']'), "nested"},
      {good.substr(0, good.size() / 2), "not a JSON object"},
  };
  for (const Case& c : cases) {
    auto r = PinRegistry::Parse(c.text, limits);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << c.text;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().message() << " for " << c.text;
  }
  // Through Open: the file's path is named.
  const std::string path = Path();
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, std::string("{garbage"), false).ok());
  auto opened = PinRegistry::Open({.path = path});
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().ToString().find(path), std::string::npos) << opened.status().ToString();
}

}  // namespace
}  // namespace swarmkv
