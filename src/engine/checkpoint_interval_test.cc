// The checkpoint-interval cost model (engine/checkpoint_interval.h) at the real shapes the
// header quotes, and the terms moving k the way the model says they should.
#include "engine/checkpoint_interval.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

// granite-4.0-h-350m: 28 Mamba-2 layers of (conv 3 x 1792 + ssm 48 x 32 x 128) f32; 4 attention
// layers x 4 KV heads x 32 tokens x (64 + 64) dims x f16.
constexpr uint64_t kGraniteState = 28ull * (3 * 1792 + 48 * 32 * 128) * 4;
constexpr uint64_t kGraniteKv = 4ull * 4 * 32 * (64 + 64) * 2;
// LFM2-350M: 10 conv layers x 2 rows x 1024 f32; 6 attention layers x 8 heads x 32 x 256 bytes.
constexpr uint64_t kLfm2State = 10ull * 2 * 1024 * 4;
constexpr uint64_t kLfm2Kv = 6ull * 8 * 32 * 256;

CheckpointCostInputs Inputs(uint64_t state, uint64_t kv) {
  CheckpointCostInputs in;
  in.state_bytes = state;
  in.kv_bytes_per_block = kv;
  return in;
}

TEST(CheckpointIntervalTest, RealShapes) {
  EXPECT_EQ(kGraniteState, 22622208u);  // the 21.6 MiB of docs/memory.md
  const CheckpointInterval g = ChooseCheckpointInterval(Inputs(kGraniteState, kGraniteKv));
  EXPECT_NEAR(g.optimum, 18.58, 0.01);
  EXPECT_EQ(g.blocks, 16) << g.DebugString();  // the cap
  const CheckpointInterval l = ChooseCheckpointInterval(Inputs(kLfm2State, kLfm2Kv));
  EXPECT_NEAR(l.optimum, 0.645, 0.001);
  EXPECT_EQ(l.blocks, 1) << l.DebugString();
}

TEST(CheckpointIntervalTest, NoStateMeansEveryBlockAndAModelWithoutKvPricesItsOwnBlocks) {
  EXPECT_EQ(ChooseCheckpointInterval(Inputs(0, kGraniteKv)).blocks, 1);
  // Pure mamba2: K' = S, so 2 C / R = 2 -> k* = 1.41 -> 1.
  const CheckpointInterval p = ChooseCheckpointInterval(Inputs(kGraniteState, 0));
  EXPECT_NEAR(p.optimum, 1.414, 0.001);
  EXPECT_EQ(p.blocks, 1);
}

TEST(CheckpointIntervalTest, FastRecomputeOrSlowTiersWidenTheInterval) {
  CheckpointCostInputs in = Inputs(kLfm2State, kLfm2Kv);
  const double base = ChooseCheckpointInterval(in).optimum;
  in.prefill_tokens_per_second = 100;  // a slow CPU: bytes are cheap next to recompute
  const double slow = ChooseCheckpointInterval(in).optimum;
  EXPECT_GT(slow, base);
  EXPECT_LT(slow, base * 1.01);
  in.prefill_tokens_per_second = 1e7;  // recompute nearly free: checkpoints must be rare
  const CheckpointInterval fast = ChooseCheckpointInterval(in);
  EXPECT_GT(fast.optimum, 3 * base);
  in.tier_bytes_per_second = 1e8;  // slower tier: rarer still
  EXPECT_GT(ChooseCheckpointInterval(in).optimum, fast.optimum);
  in.max_interval = 4;
  EXPECT_LE(ChooseCheckpointInterval(in).blocks, 4);
}

TEST(CheckpointIntervalTest, AnExplicitIntervalOverridesTheModel) {
  const CheckpointCostInputs in = Inputs(kGraniteState, kGraniteKv);
  EXPECT_EQ(CheckpointIntervalBlocks(0, in), 16);
  EXPECT_EQ(CheckpointIntervalBlocks(1, in), 1);
  EXPECT_EQ(CheckpointIntervalBlocks(40, in), 40);
}

}  // namespace
}  // namespace swarmkv
