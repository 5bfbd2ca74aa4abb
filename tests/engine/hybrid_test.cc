// Hybrid models in the swarm memory (issue 19), on tiny-lfm2 (conv, conv, attention, conv; made
// by the test with `make-model`'s maker), with the real KvMemory, disk tier and redis-server:
// - the recurrent state matters (a wrong checkpoint changes the logits), so the checks below can
//   fail;
// - exactness: chunking, batching with other sequences, prefix from the cache (the shared check);
// - every split point of a 100-token prompt, with the prefix's checkpoint taken from RAM, from a
//   disk tier after a "restart" (a new KvMemory and tier manager over the same directory) and
//   from Redis: the logits are byte-identical to computing the prompt from scratch. A split
//   inside a block restores the checkpoint of the block before and recomputes from there;
// - forks share checkpoints (a second conversation attaches the first's blocks, no copy);
// - the state bytes registered per block are the short-conv layers' (L - 1) x n_embd floats.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/testing.h"
#include "engine_fixture.h"
#include "exactness_checks.h"
#include "local_reference.h"
#include "recurrent_checks.h"
#include "model/synthetic_model.h"

namespace swarmkv::testing {
namespace {

std::string MakeTinyLfm2(TensorType type = TensorType::kF16) { return SyntheticModelOnce("tiny-lfm2", type); }
std::vector<int32_t> Prompt(size_t n = 100) { return HybridPrompt(n); }

TEST(HybridTest, NamespaceCarriesEachConvLayersStateAndOnlyTheAttentionLayersKv) {
  auto fx = EngineFixture::Load(MakeTinyLfm2(), TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  ASSERT_TRUE(f.forward->hybrid());
  // tiny-lfm2: n_embd 128, layers conv, conv, attention, conv; 3 taps -> 2 rows of state.
  EXPECT_EQ(f.forward->RecurrentStateBytesPerLayer(), (std::vector<uint64_t>{1024, 1024, 1024}));
  auto layout = f.memory->Layout(f.ns);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->shape().num_layers, 1);
  auto seq = f.memory->CreateSequence(f.ns);
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE(f.memory->Reserve(*seq, 1).ok());
  auto area = f.memory->MutableRecurrentState(*seq, 0);
  ASSERT_TRUE(area.ok());
  EXPECT_EQ(area->size(), 3072u);
  ASSERT_TRUE(f.memory->Release(*seq).ok());
}

TEST(HybridTest, TheCheckpointIsUsedAWrongStateChangesTheLogits) {
  auto fx = EngineFixture::Load(MakeTinyLfm2(), TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  ExpectTheCheckpointIsNeeded(f, Prompt());
}

TEST(HybridTest, LogitsIdenticalAcrossChunkingBatchingAndCache) {
  for (TensorType kv : {TensorType::kF16, TensorType::kBF16}) {
    SCOPED_TRACE(TensorTypeName(static_cast<uint32_t>(kv)));
    auto fx = EngineFixture::Load(MakeTinyLfm2(), kv);
    ASSERT_TRUE(fx.ok()) << fx.status().ToString();
    ASSERT_NO_FATAL_FAILURE(ExpectLogitsIdenticalAcrossChunkingBatchingAndCache(**fx, Prompt(150)));
  }
}

TEST(HybridTest, EverySplitPointWithTheCheckpointFromRamIsExact) {
  auto fx = EngineFixture::Load(MakeTinyLfm2(), TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  ExpectEverySplitExactFromRam(**fx, Prompt());
}

TEST(HybridTest, ForksShareTheCheckpointedBlocks) {
  auto fx = EngineFixture::Load(MakeTinyLfm2(), TensorType::kF16);
  ASSERT_TRUE(fx.ok()) << fx.status().ToString();
  EngineFixture& f = **fx;
  const std::vector<int32_t> prompt = Prompt();
  auto a = f.memory->CreateSequence(f.ns);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(f.Feed(*a, prompt, 1 << 20).ok());
  auto b = f.memory->Fork(*a);
  ASSERT_TRUE(b.ok());
  auto ta = f.memory->GetBlockTable(*a), tb = f.memory->GetBlockTable(*b);
  ASSERT_TRUE(ta.ok() && tb.ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ta->blocks[i], tb->blocks[i]) << "block " << i << " copied";
  // A conversation that attaches the same prefix while both hold it shares the blocks too, and its
  // checkpoint is the one the first computed.
  auto c = f.memory->CreateSequence(f.ns);
  ASSERT_TRUE(c.ok());
  auto match = f.memory->AttachPrefix(*c, std::span<const int32_t>(prompt).first(70));
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->matched_tokens, 64);
  auto tc = f.memory->GetBlockTable(*c);
  ASSERT_TRUE(tc.ok());
  EXPECT_EQ(tc->blocks[1], ta->blocks[1]);
  auto layout = f.memory->Layout(f.ns);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(match->recurrent_state.data(), ta->blocks[1] + layout->block_bytes());
  for (auto s : {*a, *b, *c}) ASSERT_TRUE(f.memory->Release(s).ok());
}

TEST(HybridTest, EverySplitPointWithTheCheckpointFromDiskAfterRestartIsExact) {
  ExpectEverySplitExactFromDisk(MakeTinyLfm2(), TempDir() + "/hybrid-disk", "disk", Prompt());
}

TEST(HybridTest, EverySplitPointWithTheCheckpointFromRedisIsExact) {
  ExpectEverySplitExactFromRedis(MakeTinyLfm2(), "redis", Prompt());
}

}  // namespace
}  // namespace swarmkv::testing

namespace swarmkv::testing {
namespace {

// Parity with llama.cpp's lfm2 (scripts/arch_references.sh writes tiny-lfm2 in Q8_0 and
// LFM2-350M cut to 6 layers — conv, conv, attention, conv, conv, attention — in F16), teacher
// forced at context 2048 like the other architectures. Tolerances as arch_test.cc's: 1e-3 for the
// Q8_0 tiny shape, the AVX-512 float-order floor 1e-2 for the F16 real shape.
class HybridParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HybridParityTest, TeacherForcedMatchesLocalLlamaCpp) {
  const ArchReference a = FindArchReference(SWARMKV_LOCAL_REFERENCE_DIR_DEFAULT, SWARMKV_ARCH_MODELS_DIR_DEFAULT, GetParam());
  if (!a.skip.empty()) GTEST_SKIP() << a.skip;
  const std::string& model = a.model;
  const std::vector<LocalReference>& refs = a.refs;
  for (const LocalReference& ref : refs) {
    SCOPED_TRACE("llama.cpp " + ref.isa + " reference " + ref.path);
    const double tolerance = GetParam().rfind("tiny-", 0) == 0 ? 1e-3 : 1e-2;
    ExpectTeacherForcedWithin(model, ref.path, tolerance, GetParam() + " (" + ref.isa + ")", 2048);
  }
}

INSTANTIATE_TEST_SUITE_P(Lfm2, HybridParityTest, ::testing::Values("tiny-lfm2", "lfm2-350m-6l"), [](const auto& p) {
  std::string n = p.param;
  for (char& ch : n)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

}  // namespace
}  // namespace swarmkv::testing
