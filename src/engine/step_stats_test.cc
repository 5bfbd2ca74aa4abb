#include "engine/step_stats.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace swarmkv {
namespace {

StepBatch Batch(const std::vector<std::pair<int32_t, bool>>& spans) {
  StepBatch b;
  SlotId slot = 1;
  for (const auto& [n, logits] : spans) b.Add(slot++, 0, std::vector<int32_t>(static_cast<size_t>(n), 7), logits);
  return b;
}

TEST(StepStatsTest, DecodeRowsAreOneTokenSpansThatSample) {
  // Two decode rows, a prefill chunk that finishes its prompt (samples, but 5 rows), and a
  // one-token chunk of a prefill-only job (no logits: a prompt row).
  const StepShape s = ShapeOf(Batch({{1, true}, {5, true}, {1, true}, {1, false}}));
  EXPECT_EQ(s.spans, 4);
  EXPECT_EQ(s.decode_rows, 2);
  EXPECT_EQ(s.prefill_rows, 6);
}

TEST(StepStatsTest, EachStepCountsOnceUnderItsKind) {
  StepStats stats;
  stats.Record(ShapeOf(Batch({{1, true}, {1, true}})), 100, 110, 150, 160);  // decode
  stats.Record(ShapeOf(Batch({{1, true}, {64, false}})), 200, 205, 300, 310);  // mixed
  stats.Record(ShapeOf(Batch({{32, true}})), 400, 401, 480, 490);              // prefill
  stats.Record(ShapeOf(Batch({{1, true}})), 500, 500, 520, 530);               // decode
  const StepTotals t = stats.Totals();
  EXPECT_EQ(t.decode.steps, 2);
  EXPECT_EQ(t.decode.decode_rows, 3);
  EXPECT_EQ(t.decode.prefill_rows, 0);
  EXPECT_EQ(t.decode.forward_ns, 40 + 20);
  EXPECT_EQ(t.decode.step_ns, 60 + 30);
  EXPECT_EQ(t.mixed.steps, 1);
  EXPECT_EQ(t.mixed.decode_rows, 1);
  EXPECT_EQ(t.mixed.prefill_rows, 64);
  EXPECT_EQ(t.mixed.step_ns, 110);
  EXPECT_EQ(t.prefill.steps, 1);
  EXPECT_EQ(t.prefill.decode_rows, 0);
  EXPECT_EQ(t.prefill.prefill_rows, 32);
  StepTotals sum = t;
  sum += t;
  EXPECT_EQ(sum.mixed.prefill_rows, 128);
  EXPECT_EQ(sum.decode.forward_ns, 120);
}

TEST(StepStatsTest, TraceWritesOneLinePerStep) {
  const std::string path = ::testing::TempDir() + "/step_trace_" + std::to_string(::getpid()) + ".tsv";
  std::remove(path.c_str());
  ASSERT_EQ(::setenv("SWARMKV_STEP_TRACE", path.c_str(), 1), 0);
  {
    StepStats stats;
    stats.Record(ShapeOf(Batch({{1, true}, {1, true}, {30, false}})), 1000000, 2000000, 12000000, 13000000);
    stats.Record(ShapeOf(Batch({{1, true}})), 14000000, 14000000, 20000000, 20500000);
  }
  ::unsetenv("SWARMKV_STEP_TRACE");
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "t_ms\tspans\tdecode_rows\tprefill_rows\tform_ms\tforward_ms\tapply_ms\tcpu_ms");
  EXPECT_EQ(lines[1], "0.000\t3\t2\t30\t1.000\t10.000\t1.000\t0.000");  // no CPU figure before a first step
  EXPECT_EQ(lines[2].rfind("13.000\t1\t1\t0\t0.000\t6.000\t0.500\t", 0), 0u) << lines[2];
  std::remove(path.c_str());
}

}  // namespace
}  // namespace swarmkv
