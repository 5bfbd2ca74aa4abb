// Batch invariance on real models: one prompt's logits are identical, byte for byte, whether it
// is run (a) in one chunk, (b) in chunks of 1, 7 and 64 tokens, (c) batched with other sequences
// at other positions, or (d) with its prefix KV taken from the cache.
#include <gtest/gtest.h>

#include <cstring>

#include "base/testing.h"
#include "engine_fixture.h"
#include "reference_cases.h"

namespace swarmkv::testing {
namespace {

struct Param {
  std::string model;
  TensorType kv;
};

std::string Name(const ::testing::TestParamInfo<Param>& p) {
  std::string n = p.param.model + "_" + TensorTypeName(static_cast<uint32_t>(p.param.kv));
  for (char& c : n) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

class ExactnessTest : public ::testing::TestWithParam<Param> {};

// A 100-token prompt: the reference case's prompt and continuation, then its start again.
std::vector<int32_t> LongPrompt(const ReferenceCase& c) {
  std::vector<int32_t> p = c.prompt_tokens;
  p.insert(p.end(), c.tokens.begin(), c.tokens.end());
  for (size_t i = 0; p.size() < 100; ++i) p.push_back(p[1 + i % (p.size() - 1)]);
  p.resize(100);
  return p;
}

bool SameBytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST_P(ExactnessTest, LogitsIdenticalAcrossChunkingBatchingAndCache) {
  const std::string path = SKV_REQUIRE_SHARED("models/" + GetParam().model + ".gguf");
  const std::string ref_path = SKV_REQUIRE_SHARED("reference/" + GetParam().model + ".json");
  auto ref = LoadReferenceFile(ref_path);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  auto fx = EngineFixture::Load(path, GetParam().kv);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  const std::vector<int32_t> prompt = LongPrompt(ref->cases[0]);

  // (a) one chunk.
  auto seq_a = f.memory->CreateSequence(f.ns);
  ASSERT_TRUE(seq_a.ok());
  auto a = f.Feed(*seq_a, prompt, 1000);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->size(), static_cast<size_t>(f.vocab()));

  // (b) chunks of 1, 7, 64.
  for (int64_t chunk : {1, 7, 64}) {
    auto seq = f.memory->CreateSequence(f.ns);
    ASSERT_TRUE(seq.ok());
    auto b = f.Feed(*seq, prompt, chunk);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_TRUE(SameBytes(*a, *b)) << "chunk " << chunk;
    ASSERT_TRUE(f.memory->Release(*seq).ok());
  }

  // (c) batched: every step also carries a decode row of another sequence and a prefill chunk
  // of a third, at unrelated positions.
  {
    auto x = f.memory->CreateSequence(f.ns), y = f.memory->CreateSequence(f.ns), z = f.memory->CreateSequence(f.ns);
    ASSERT_TRUE(x.ok() && y.ok() && z.ok());
    std::vector<int32_t> other(prompt.rbegin(), prompt.rend());
    ASSERT_TRUE(f.Feed(*y, std::span<const int32_t>(other).first(40), 40).ok());
    StepBatch batch;
    StepOutput out;
    int64_t px = 0, py = 40, pz = 0;
    std::vector<float> c_logits;
    for (int64_t i = 0; i < static_cast<int64_t>(prompt.size()); i += 9) {
      const int64_t n = std::min<int64_t>(9, prompt.size() - i);
      batch.Clear();
      batch.Add(*y, py, std::span<const int32_t>(other).subspan(py % 60, 1), true);
      batch.Add(*x, px, std::span<const int32_t>(prompt).subspan(i, n), i + n == static_cast<int64_t>(prompt.size()));
      batch.Add(*z, pz, std::span<const int32_t>(other).subspan(0, 3), true);
      auto st = f.forward->Run(batch, &out);
      ASSERT_TRUE(st.ok()) << st.ToString();
      px += n;
      py += 1;
      pz += 3;
      if (i + n == static_cast<int64_t>(prompt.size())) {
        c_logits.assign(out.Row(1).begin(), out.Row(1).end());
      }
    }
    EXPECT_TRUE(SameBytes(*a, c_logits)) << "batched with other sequences";
    for (auto s : {*x, *y, *z}) ASSERT_TRUE(f.memory->Release(s).ok());
  }

  // (d) prefix from the cache: release (a), then a new sequence attaches the cached prefix.
  ASSERT_TRUE(f.memory->Release(*seq_a).ok());
  auto seq_d = f.memory->CreateSequence(f.ns);
  ASSERT_TRUE(seq_d.ok());
  auto match = f.memory->AttachPrefix(*seq_d, std::span<const int32_t>(prompt).first(prompt.size() - 1));
  ASSERT_TRUE(match.ok()) << match.status().ToString();
  EXPECT_GE(match->matched_tokens, 64) << "the prefix should come from the cache";
  auto d = f.Feed(*seq_d, std::span<const int32_t>(prompt).subspan(match->matched_tokens), 1000);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(SameBytes(*a, *d)) << "with " << match->matched_tokens << " prefix tokens from the cache";
  ASSERT_TRUE(f.memory->Release(*seq_d).ok());
  EXPECT_TRUE(f.memory->CheckInvariants().ok());
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ExactnessTest,
                         ::testing::Values(Param{"stories260K", TensorType::kF16},
                                           Param{"stories260K", TensorType::kBF16},
                                           Param{"TinyStories-656K.f16", TensorType::kF16},
                                           Param{"TinyStories-656K.f16", TensorType::kBF16},
                                           Param{"tinystories-656k-q8_0", TensorType::kF16},
                                           Param{"tinystories-656k-q8_0", TensorType::kBF16}),
                         Name);

// q8_0 KV needs head dims that are multiples of 32; the tiny models' are 8 and 16, so asking for
// it must fail with a clear error rather than misbehave.
TEST(ExactnessTest, Q8KvOnTinyHeadDimsIsAClearError) {
  const std::string path = SKV_REQUIRE_SHARED("models/stories260K.gguf");
  auto fx = EngineFixture::Load(path, TensorType::kQ8_0);
  ASSERT_FALSE(fx.ok());
  EXPECT_EQ(fx.status().code(), StatusCode::kInvalidArgument) << fx.status().ToString();
}

}  // namespace
}  // namespace swarmkv::testing
