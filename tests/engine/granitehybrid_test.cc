// granitehybrid (Granite 4.0 H: Mamba-2 + attention layers, granite multipliers) in the engine,
// through h19a's recurrent-state seam (engine/recurrent_layer.h) with the real KvMemory:
// - the Mamba-2 state is used (a zero state changes the logits), so the checks can fail;
// - the namespace carries each Mamba-2 layer's conv + ssm state and only the attention layers' KV;
// - exactness: chunking, batching with other sequences, prefix from the cache (the shared check),
//   and every split point of a 100-token prompt with the prefix's checkpoint restored from RAM
//   and from a disk tier after a "restart" (new memory and tier manager, same directory) or a real
//   redis-server (recurrent_checks.h's shared tier checks);
// - the engine's logits equal Mamba2Layer run alone (the same kernels) — see mamba2_test.cc for
//   the pure model;
// - parity with llama.cpp on tiny-granitehybrid (Q8_0, RoPE) and granite-4.0-h-350m cut to 4
//   layers (F16, NoPE) when scripts/arch_references.sh made the references.
#include <gtest/gtest.h>

#include "base/testing.h"
#include "engine_fixture.h"
#include "exactness_checks.h"
#include "local_reference.h"
#include "recurrent_checks.h"
#include "model/synthetic_model.h"

namespace swarmkv::testing {
namespace {

std::string MakeTinyGraniteHybrid() { return SyntheticModelOnce("tiny-granitehybrid", TensorType::kQ8_0); }
std::vector<int32_t> Prompt(size_t n = 100) { return HybridPrompt(n); }

TEST(GraniteHybridTest, NamespaceHoldsMamba2StatesAndAttentionKvOnly) {
  auto fx = EngineFixture::Load(MakeTinyGraniteHybrid(), TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  ASSERT_TRUE(f.forward->hybrid());
  // tiny-granitehybrid: layers mamba, attention, mamba, mamba; d_inner 256, 2 groups, d_state 32,
  // conv 4: conv state 3 x 384 floats + ssm state 256 x 32 floats per layer.
  const uint64_t per_layer = (3 * 384 + 256 * 32) * 4;
  EXPECT_EQ(f.forward->RecurrentStateBytesPerLayer(), (std::vector<uint64_t>{per_layer, per_layer, per_layer}));
  auto layout = f.memory->Layout(f.ns);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->shape().num_layers, 1);
}

TEST(GraniteHybridTest, TheMamba2StateIsUsed) {
  auto fx = EngineFixture::Load(MakeTinyGraniteHybrid(), TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  ExpectTheCheckpointIsNeeded(f, Prompt());
}

TEST(GraniteHybridTest, LogitsIdenticalAcrossChunkingBatchingAndCache) {
  for (TensorType kv : {TensorType::kF16, TensorType::kBF16}) {
    SCOPED_TRACE(TensorTypeName(static_cast<uint32_t>(kv)));
    auto fx = EngineFixture::Load(MakeTinyGraniteHybrid(), kv);
    ASSERT_TRUE(fx.ok()) << fx.status().ToString();
    ASSERT_NO_FATAL_FAILURE(ExpectLogitsIdenticalAcrossChunkingBatchingAndCache(**fx, Prompt(150)));
  }
}

TEST(GraniteHybridTest, EverySplitPointWithTheCheckpointFromRamIsExact) {
  auto fx = EngineFixture::Load(MakeTinyGraniteHybrid(), TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  ExpectEverySplitExactFromRam(**fx, Prompt());
}

TEST(GraniteHybridTest, EverySplitPointWithTheCheckpointFromDiskAfterRestartIsExact) {
  ExpectEverySplitExactFromDisk(MakeTinyGraniteHybrid(), TempDir() + "/granitehybrid-disk", "disk", Prompt());
}

// The checkpoints (Mamba-2 conv + ssm state, ~35 KiB per layer) through a real redis-server.
TEST(GraniteHybridTest, EverySplitPointWithTheCheckpointFromRedisIsExact) {
  ExpectEverySplitExactFromRedis(MakeTinyGraniteHybrid(), "redis", Prompt());
}

// Parity (scripts/arch_references.sh): Q8_0 tiny shape with RoPE, F16 real shape (NoPE, attention
// at layer 2 of 4). llama.cpp's AVX-512 build: see docs/engine.md for the measured figures.
class GraniteHybridParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GraniteHybridParityTest, TeacherForcedMatchesLocalLlamaCpp) {
  const ArchReference a = FindArchReference(SWARMKV_LOCAL_REFERENCE_DIR_DEFAULT, SWARMKV_ARCH_MODELS_DIR_DEFAULT, GetParam());
  if (!a.skip.empty()) GTEST_SKIP() << a.skip;
  const std::string& model = a.model;
  const std::vector<LocalReference>& refs = a.refs;
  for (const LocalReference& ref : refs) {
    SCOPED_TRACE("llama.cpp " + ref.isa + " reference " + ref.path);
    ExpectTeacherForcedWithin(model, ref.path, 1e-3, GetParam() + " (" + ref.isa + ")", 2048);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GraniteHybridParityTest,
                         ::testing::Values("tiny-granitehybrid", "granite-4.0-h-350m-4l"), [](const auto& p) {
                           std::string n = p.param;
                           for (char& ch : n) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace swarmkv::testing
