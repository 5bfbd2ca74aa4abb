// The preemption cost model (engine/preemption_cost.h): each term of the formula moves the
// choice the way it should, and the unmeasured / nothing-to-keep cases are pinned.
#include "engine/preemption_cost.h"

#include <gtest/gtest.h>

namespace swarmkv {
namespace {

PreemptionInputs Measured() {
  PreemptionInputs in;
  in.swap_bytes = 100 << 20;   // 100 MiB resident
  in.cold_bytes = 0;
  in.recompute_tokens = 2000;
  in.reads_after_resume = 1;
  in.write_bytes_per_second = 1e9;
  in.read_bytes_per_second = 2e9;
  in.prefill_tokens_per_second = 1000;
  return in;
}

TEST(PreemptionCostTest, TheFormulaIsTheDocumentedOne) {
  const PreemptionInputs in = Measured();
  const PreemptionEstimate e = ChoosePreemption(in);
  const double mib100 = 100.0 * (1 << 20);
  EXPECT_DOUBLE_EQ(e.swap_seconds, mib100 / 1e9 + mib100 * 1 / 2e9);
  EXPECT_DOUBLE_EQ(e.recompute_seconds, 2.0);
  EXPECT_EQ(e.choice, PreemptChoice::kSwap) << e.DebugString();
}

TEST(PreemptionCostTest, FastPrefillOrSlowDiskChoosesRecompute) {
  PreemptionInputs in = Measured();
  in.prefill_tokens_per_second = 1e6;  // 2 ms to recompute
  EXPECT_EQ(ChoosePreemption(in).choice, PreemptChoice::kRecompute);
  in = Measured();
  in.write_bytes_per_second = 20e6;  // 5 s to write 100 MiB
  EXPECT_EQ(ChoosePreemption(in).choice, PreemptChoice::kRecompute);
}

TEST(PreemptionCostTest, StreamingBackOnEveryStepCountsAgainstSwapping) {
  PreemptionInputs in = Measured();
  in.reads_after_resume = 1;
  EXPECT_EQ(ChoosePreemption(in).choice, PreemptChoice::kSwap);
  in.reads_after_resume = 100;  // 100 steps streaming 100 MiB at 2 GB/s = 5 s > 2 s of prefill
  const PreemptionEstimate e = ChoosePreemption(in);
  EXPECT_EQ(e.choice, PreemptChoice::kRecompute) << e.DebugString();
}

TEST(PreemptionCostTest, ColdBlocksARecomputeLosesCountForSwapping) {
  PreemptionInputs in = Measured();
  in.prefill_tokens_per_second = 1e5;  // 20 ms to recompute the tokens...
  in.swap_bytes = 10 << 20;            // ...vs ~15.7 ms to swap 10 MiB
  in.recompute_tokens = 2000;
  in.reads_after_resume = 0;
  in.write_bytes_per_second = 1e9;
  EXPECT_EQ(ChoosePreemption(in).choice, PreemptChoice::kSwap);
  in.swap_bytes = 40 << 20;  // ~42 ms to swap: recompute is cheaper...
  EXPECT_EQ(ChoosePreemption(in).choice, PreemptChoice::kRecompute);
  in.cold_bytes = 1ull << 30;  // ...unless 1 GiB already on disk has to be rewritten after it
  EXPECT_EQ(ChoosePreemption(in).choice, PreemptChoice::kSwap);
}

TEST(PreemptionCostTest, UnmeasuredSpeedsSwapAndNothingToKeepRecomputes) {
  PreemptionInputs in = Measured();
  in.prefill_tokens_per_second = 0;
  EXPECT_EQ(ChoosePreemption(in).choice, PreemptChoice::kSwap);
  in = Measured();
  in.read_bytes_per_second = 0;
  EXPECT_EQ(ChoosePreemption(in).choice, PreemptChoice::kSwap);
  in = Measured();
  in.swap_bytes = 0;
  in.cold_bytes = 0;
  EXPECT_EQ(ChoosePreemption(in).choice, PreemptChoice::kRecompute);
}

}  // namespace
}  // namespace swarmkv
