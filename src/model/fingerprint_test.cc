#include "model/fingerprint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "base/testing.h"
#include "model/kv_namespace.h"
#include "model/model.h"
#include "model/synthetic_model.h"
#include "gguf/gguf_writer.h"

namespace swarmkv {
namespace {

class FingerprintTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir();
    SyntheticModelOptions o;
    o.shape = "tiny";
    o.type = TensorType::kQ8_0;
    o.seed = 7;
    original_ = dir_ + "/tiny.gguf";
    ASSERT_TRUE(MakeSyntheticModel(o, original_).ok());
  }
  ModelLoadOptions Options(const std::string& cache) {
    ModelLoadOptions o;
    o.fingerprint.cache_path = cache;
    return o;
  }
  std::unique_ptr<Model> Load(const std::string& path, const std::string& cache = "") {
    auto m = Model::Load(path, Options(cache));
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(*m) : nullptr;
  }
  std::string Copy(const std::string& name) {
    std::string p = dir_ + "/" + name;
    std::filesystem::copy_file(original_, p, std::filesystem::copy_options::overwrite_existing);
    return p;
  }
  std::string dir_, original_;
};

TEST_F(FingerprintTest, TwoCopiesShareTheNamespace) {
  auto a = Load(original_);
  auto b = Load(Copy("copy.gguf"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->fingerprint(), b->fingerprint());
  KvCacheConfig kv;
  EXPECT_EQ(a->KvNamespace(kv), b->KvNamespace(kv));
}

TEST_F(FingerprintTest, OneChangedWeightByteChangesTheNamespace) {
  auto a = Load(original_);
  ASSERT_TRUE(a);
  const GgufTensorInfo* t = a->gguf().FindTensor("blk.3.ffn_down.weight");
  ASSERT_NE(t, nullptr);
  uint64_t at = a->gguf().data_offset() + t->offset + t->size_bytes / 2;
  std::string bytes = Env::Default()->ReadFile(original_).value();
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  std::string changed = dir_ + "/changed.gguf";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(changed, bytes, false).ok());
  auto b = Load(changed);
  ASSERT_TRUE(b);
  EXPECT_NE(a->fingerprint(), b->fingerprint());
  EXPECT_NE(a->KvNamespace({}), b->KvNamespace({}));
}

TEST_F(FingerprintTest, KvSettingsAndHParamsChangeTheNamespace) {
  auto a = Load(original_);
  ASSERT_TRUE(a);
  KvCacheConfig base;
  Hash128 ns = a->KvNamespace(base);
  KvCacheConfig k8 = base;
  k8.k_type = TensorType::kQ8_0;
  KvCacheConfig v8 = base;
  v8.v_type = TensorType::kQ8_0;
  KvCacheConfig b16 = base;
  b16.block_tokens = 16;
  EXPECT_NE(ns, a->KvNamespace(k8));
  EXPECT_NE(ns, a->KvNamespace(v8));
  EXPECT_NE(ns, a->KvNamespace(b16));
  EXPECT_NE(a->KvNamespace(k8), a->KvNamespace(v8));
  KvCacheConfig other_kernels = base;
  other_kernels.numerics = base.numerics + 1;
  EXPECT_NE(ns, a->KvNamespace(other_kernels));
  ModelHParams h = a->hparams();
  h.rope_freq_base *= 2;
  EXPECT_NE(ns, ComputeKvNamespace(h, base, a->fingerprint()));
  h = a->hparams();
  h.rope_scaling.factor = 2;
  EXPECT_NE(ns, ComputeKvNamespace(h, base, a->fingerprint()));
  EXPECT_EQ(ns, ComputeKvNamespace(a->hparams(), base, a->fingerprint()));
}

TEST_F(FingerprintTest, CacheHitsMissesAndStaleEntries) {
  std::string cache = dir_ + "/cache/fingerprints";
  auto first = Load(original_, cache);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->fingerprint_source(), FingerprintSource::kHashed);
  auto second = Load(original_, cache);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->fingerprint_source(), FingerprintSource::kCache);
  EXPECT_EQ(second->fingerprint(), first->fingerprint());
  // A rewritten file (new inode/mtime) is re-hashed, not served from the cache.
  std::string bytes = Env::Default()->ReadFile(original_).value();
  bytes[bytes.size() - 1] ^= 0x10;
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(original_, bytes, false).ok());
  auto third = Load(original_, cache);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->fingerprint_source(), FingerprintSource::kHashed);
  EXPECT_NE(third->fingerprint(), first->fingerprint());
  auto fourth = Load(original_, cache);
  EXPECT_EQ(fourth->fingerprint_source(), FingerprintSource::kCache);
  EXPECT_EQ(fourth->fingerprint(), third->fingerprint());
}

TEST_F(FingerprintTest, CorruptCacheIsIgnoredNeverTrusted) {
  std::string cache = dir_ + "/fp";
  auto truth = Load(original_, cache);
  ASSERT_TRUE(truth);
  std::string text = Env::Default()->ReadFile(cache).value();
  // Flip one hex digit of the stored fingerprint: the line checksum no longer matches.
  size_t at = text.find(' ') + 1;
  text[at] = text[at] == '0' ? '1' : '0';
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(cache, "garbage line\n\xff\xfe\n" + text + "skvfp1 trunc", false).ok());
  auto again = Load(original_, cache);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->fingerprint_source(), FingerprintSource::kHashed);
  EXPECT_EQ(again->fingerprint(), truth->fingerprint());
  // Binary junk as the whole cache file.
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(cache, std::string(1000, '\0'), false).ok());
  auto junk = Load(original_, cache);
  ASSERT_TRUE(junk);
  EXPECT_EQ(junk->fingerprint(), truth->fingerprint());
  // A cache path that cannot be written (a directory) is not an error.
  auto dir_cache = Load(original_, dir_);
  ASSERT_TRUE(dir_cache);
  EXPECT_EQ(dir_cache->fingerprint(), truth->fingerprint());
}

TEST_F(FingerprintTest, ConcurrentLoadersAgree) {
  std::string cache = dir_ + "/concurrent";
  std::vector<std::string> copies;
  for (int i = 0; i < 4; ++i) copies.push_back(Copy("c" + std::to_string(i) + ".gguf"));
  Hash128 expected = Load(original_)->fingerprint();
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        auto m = Model::Load(copies[(t + round) % 4], Options(cache));
        if (!m.ok() || (*m)->fingerprint() != expected) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(FingerprintTest, OllamaBlobNameGivesTheFingerprint) {
  std::string hex(64, 'a');
  hex[0] = '0';
  std::string blob = Copy("sha256-" + hex);
  auto m = Load(blob, dir_ + "/c");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->fingerprint_source(), FingerprintSource::kOllamaBlobName);
  EXPECT_EQ(m->fingerprint(), HashBytes("ollama-sha256:" + hex));
  EXPECT_EQ(FingerprintFromOllamaBlobName("/x/sha256-" + std::string(64, 'A')),
            FingerprintFromOllamaBlobName("/y/sha256-" + std::string(64, 'a')));
  EXPECT_FALSE(FingerprintFromOllamaBlobName("/x/sha256-abc").has_value());
  EXPECT_FALSE(FingerprintFromOllamaBlobName("/x/sha256-" + std::string(64, 'g')).has_value());
  EXPECT_FALSE(FingerprintFromOllamaBlobName("/x/model.gguf").has_value());
}

TEST(FingerprintDefinitionTest, CoversNamesTypesShapesAndBytes) {
  // Same bytes, different tensor name → different fingerprint.
  auto make = [](const char* name) {
    std::string path = testing::TempDir() + "/" + name + ".gguf";
    GgufWriter w;
    EXPECT_TRUE(w.AddTensor(name, 0, {4}).ok());
    EXPECT_TRUE(w.Write(path, [](size_t, const GgufWriterTensor&, GgufTensorSink& s) {
                   uint8_t b[16] = {1, 2, 3};
                   return s.Append(b);
                 }).ok());
    return ComputeWeightsFingerprint(*GgufFile::Open(path).value());
  };
  EXPECT_NE(make("a"), make("b"));
  EXPECT_EQ(make("a"), make("a"));
}

}  // namespace
}  // namespace swarmkv
