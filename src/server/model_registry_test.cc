#include "server/model_registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/env.h"
#include "base/testing.h"
#include "server/ollama_store.h"

namespace swarmkv {
namespace {

void Write(const std::string& path, const std::string& data) {
  size_t slash = path.rfind('/');
  ASSERT_TRUE(Env::Default()->CreateDirs(path.substr(0, slash)).ok());
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, data, false).ok());
}

std::string Hex(char c) { return std::string(64, c); }

// A store with llama3:latest (model + template + system + params), user/coder:q4 on the same
// weights blob, and one manifest whose blob is missing.
std::string MakeOllamaStore() {
  std::string root = testing::TempDir("ollama-store");
  Write(root + "/blobs/sha256-" + Hex('a'), "GGUF-weights");
  Write(root + "/blobs/sha256-" + Hex('b'), "{{ .Prompt }}");
  Write(root + "/blobs/sha256-" + Hex('c'), "You are terse.");
  Write(root + "/blobs/sha256-" + Hex('d'), "{\"temperature\":0.2}");
  auto layer = [](const char* type, char c) {
    return std::string("{\"mediaType\":\"application/vnd.ollama.image.") + type + "\",\"digest\":\"sha256:" +
           Hex(c) + "\",\"size\":1}";
  };
  std::string manifest = "{\"schemaVersion\":2,\"layers\":[" + layer("model", 'a') + "," + layer("template", 'b') +
                         "," + layer("system", 'c') + "," + layer("params", 'd') + "]}";
  Write(root + "/manifests/registry.ollama.ai/library/llama3/latest", manifest);
  Write(root + "/manifests/registry.ollama.ai/user/coder/q4", "{\"layers\":[" + layer("model", 'a') + "]}");
  Write(root + "/manifests/registry.ollama.ai/library/ghost/latest", "{\"layers\":[" + layer("model", 'e') + "]}");
  Write(root + "/manifests/registry.ollama.ai/library/junk/latest", "not json");
  return root;
}

TEST(ModelRegistryTest, NormalizesNamesToNameColonTag) {
  EXPECT_EQ(NormalizeModelName("llama3"), "llama3:latest");
  EXPECT_EQ(NormalizeModelName("llama3:8b"), "llama3:8b");
  EXPECT_EQ(NormalizeModelName("host:5000/ns/m"), "host:5000/ns/m:latest");
  EXPECT_EQ(NormalizeModelName("user/m:q4"), "user/m:q4");
}

TEST(ModelRegistryTest, ReadsAnOllamaStoreInPlace) {
  std::string root = MakeOllamaStore();
  OllamaScan scan = ScanOllamaStore(root);
  ASSERT_EQ(scan.models.size(), 2u);
  EXPECT_EQ(scan.warnings.size(), 2u);  // ghost (missing blob) and junk (bad JSON), named
  ModelRegistry reg;
  for (auto& m : scan.models) ASSERT_TRUE(reg.Add(m).ok());
  const ModelEntry* llama = reg.Find("llama3");
  ASSERT_NE(llama, nullptr);
  EXPECT_EQ(llama->name, "llama3:latest");
  EXPECT_EQ(llama->weights_path, root + "/blobs/sha256-" + Hex('a'));
  EXPECT_EQ(llama->digest, "sha256:" + Hex('a'));
  EXPECT_EQ(llama->template_text, "{{ .Prompt }}");
  EXPECT_EQ(llama->system, "You are terse.");
  EXPECT_EQ(llama->params_json, "{\"temperature\":0.2}");
  const ModelEntry* coder = reg.Find("user/coder:q4");
  ASSERT_NE(coder, nullptr);
  EXPECT_EQ(coder->weights_key, llama->weights_key);  // same blob => one namespace
  EXPECT_EQ(reg.NamesForWeights(llama->weights_key), (std::vector<std::string>{"llama3:latest", "user/coder:q4"}));
  EXPECT_EQ(reg.Find("user/coder"), nullptr);  // tag latest does not exist
}

TEST(ModelRegistryTest, ManifestErrorsNameTheProblem) {
  auto r = ParseOllamaManifest("/nowhere", "m:t", "{\"layers\":[]}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no model layer"), std::string::npos);
  r = ParseOllamaManifest("/nowhere", "m:t", "{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"md5:x\"}]}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("md5:x"), std::string::npos);
  r = ParseOllamaManifest("/nowhere", "m:t", "[1,2]");
  ASSERT_FALSE(r.ok());
}

TEST(ModelRegistryTest, FlagsDirAndStoreWithFlagsWinning) {
  std::string root = MakeOllamaStore();
  std::string dir = testing::TempDir("models-dir");
  Write(dir + "/tiny.gguf", "x");
  Write(dir + "/llama3.gguf", "y");
  Write(dir + "/notes.txt", "z");
  ModelRegistryOptions o;
  o.model_flags = {"alias=" + dir + "/tiny.gguf"};
  o.models_dir = dir;
  o.ollama_dir = root;
  auto reg = ModelRegistry::Build(o);
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(reg->size(), 4u);  // alias, tiny, llama3 (dir wins over the store), user/coder
  EXPECT_EQ(reg->Find("llama3")->source, "dir");
  EXPECT_EQ(reg->Find("alias")->weights_key, reg->Find("tiny")->weights_key);
  EXPECT_EQ(reg->Find("notes"), nullptr);
}

TEST(ModelRegistryTest, TwoNamesAndASymlinkForOneFileShareOneModel) {
  std::string dir = testing::TempDir("symlinked-models");
  Write(dir + "/real.gguf", "weights");
  ASSERT_EQ(::symlink((dir + "/real.gguf").c_str(), (dir + "/link.gguf").c_str()), 0);
  ModelRegistryOptions o;
  o.model_flags = {"one=" + dir + "/real.gguf", "two=" + dir + "/real.gguf", "three=" + dir + "/link.gguf"};
  auto reg = ModelRegistry::Build(o);
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  const std::string key = reg->Find("one")->weights_key;
  EXPECT_EQ(reg->Find("two")->weights_key, key);
  EXPECT_EQ(reg->Find("three")->weights_key, key);  // resolved: one loaded model, one KV namespace
  EXPECT_EQ(reg->NamesForWeights(key).size(), 3u);
}

TEST(ModelRegistryTest, BadFlagsAreClearErrors) {
  ModelRegistryOptions o;
  o.model_flags = {"noequals"};
  auto r = ModelRegistry::Build(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("NAME=PATH"), std::string::npos);
  o.model_flags = {"m=/does/not/exist.gguf"};
  r = ModelRegistry::Build(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/does/not/exist.gguf"), std::string::npos);
  o.model_flags = {};
  o.ollama_dir = "/does/not/exist";  // an absent store is just empty
  EXPECT_TRUE(ModelRegistry::Build(o).ok());
}

}  // namespace
}  // namespace swarmkv
