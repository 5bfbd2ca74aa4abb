#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "engine/rng.h"

namespace swarmkv {
namespace {

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

TEST(RngTest, FixedSeedGivesFixedSequenceAcrossBuilds) {
  // Pinned values: if these change, every seeded generation changes (a compatibility break).
  Rng a(42), b(42), c(43);
  const uint64_t first = a.Next();
  EXPECT_EQ(first, b.Next());
  EXPECT_NE(first, c.Next());
  Rng z(0);
  EXPECT_EQ(z.Next(), 0x99EC5F36CB75F2B4ULL);
  for (int i = 0; i < 1000; ++i) {
    const double d = a.NextDouble();
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
  }
}

TEST(SamplerTest, GreedyPicksArgmaxAndLowestIdOnTies) {
  auto s = Sampler::Create(Greedy(), 5);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Sample(std::vector<float>{0.1f, 3.0f, -1.0f, 2.0f, 0.0f}), 1);
  EXPECT_EQ(s->Sample(std::vector<float>{1.0f, 3.0f, 3.0f, 2.0f, 3.0f}), 1);
}

TEST(SamplerTest, NonFiniteLogitsAreNeverChosen) {
  auto s = Sampler::Create(Greedy(), 4);
  ASSERT_TRUE(s.ok());
  const float nan = std::nanf("");
  const float inf = INFINITY;
  EXPECT_EQ(s->Sample(std::vector<float>{nan, inf, 1.0f, -inf}), 2);
  EXPECT_EQ(s->Sample(std::vector<float>{nan, nan, nan, nan}), 0);  // no crash
}

TEST(SamplerTest, RejectsOutOfRangeParams) {
  SamplingParams p;
  p.temperature = -1.0f;
  EXPECT_EQ(Sampler::Create(p, 10).status().code(), StatusCode::kInvalidArgument);
  p = SamplingParams();
  p.top_p = 0.0f;
  EXPECT_EQ(Sampler::Create(p, 10).status().code(), StatusCode::kInvalidArgument);
  p = SamplingParams();
  p.min_p = 1.0f;
  EXPECT_EQ(Sampler::Create(p, 10).status().code(), StatusCode::kInvalidArgument);
  p = SamplingParams();
  p.repeat_penalty = 0.0f;
  EXPECT_EQ(Sampler::Create(p, 10).status().code(), StatusCode::kInvalidArgument);
  p = SamplingParams();
  p.repeat_last_n = -2;
  EXPECT_EQ(Sampler::Create(p, 10).status().code(), StatusCode::kInvalidArgument);
  p = SamplingParams();
  p.temperature = NAN;
  auto r = Sampler::Create(p, 10);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("temperature"), std::string::npos);
  EXPECT_FALSE(Sampler::Create(SamplingParams(), 0).ok());
}

TEST(SamplerTest, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams p = Greedy();
  p.repeat_penalty = 2.0f;
  auto s = Sampler::Create(p, 3);
  ASSERT_TRUE(s.ok());
  // Token 0 seen: 3.0 -> 1.5 < 2.0, so token 1 wins.
  s->Accept(0);
  EXPECT_EQ(s->Sample(std::vector<float>{3.0f, 2.0f, -5.0f}), 1);
  // Negative logits are pushed further down: -1 * 2 = -2 < -1.5.
  auto s2 = Sampler::Create(p, 2);
  s2->Accept(0);
  EXPECT_EQ(s2->Sample(std::vector<float>{-1.0f, -1.5f}), 1);
}

TEST(SamplerTest, PenaltyWindowForgetsOldTokens) {
  SamplingParams p = Greedy();
  p.repeat_penalty = 10.0f;
  p.repeat_last_n = 2;
  auto s = Sampler::Create(p, 3);
  s->Accept(0);
  EXPECT_EQ(s->Sample(std::vector<float>{3.0f, 2.0f, 0.0f}), 1);
  s->Accept(2);
  s->Accept(2);  // token 0 falls out of the window of 2
  EXPECT_EQ(s->Sample(std::vector<float>{3.0f, 2.0f, 0.0f}), 0);
}

TEST(SamplerTest, PresenceAndFrequencyPenalties) {
  SamplingParams p = Greedy();
  p.frequency_penalty = 1.0f;
  auto s = Sampler::Create(p, 2);
  s->AcceptPrompt(std::vector<int32_t>{0, 0});
  // 3 - 2*1 = 1 < 1.5
  EXPECT_EQ(s->Sample(std::vector<float>{3.0f, 1.5f}), 1);
  p = Greedy();
  p.presence_penalty = 1.0f;
  auto s2 = Sampler::Create(p, 2);
  s2->AcceptPrompt(std::vector<int32_t>{0, 0, 0});
  // 3 - 1 = 2 > 1.5: presence does not grow with the count.
  EXPECT_EQ(s2->Sample(std::vector<float>{3.0f, 1.5f}), 0);
}

std::map<int32_t, int> Histogram(const SamplingParams& p, const std::vector<float>& logits, int draws) {
  auto s = Sampler::Create(p, static_cast<int32_t>(logits.size()));
  std::map<int32_t, int> h;
  for (int i = 0; i < draws; ++i) ++h[s->Sample(logits)];
  return h;
}

TEST(SamplerTest, TopKKeepsOnlyTheKBest) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 2;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  auto h = Histogram(p, {1.0f, 1.2f, 0.9f, 1.1f}, 2000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_GT(h[1], 0);
  EXPECT_GT(h[3], 0);
}

TEST(SamplerTest, TopPCutsTheTail) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.min_p = 0.0f;
  p.top_p = 0.5f;
  // Probabilities ~0.6, 0.3, 0.1: top-p 0.5 keeps only the first.
  const std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  auto h = Histogram(p, logits, 500);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0], 500);
  p.top_p = 0.85f;  // keeps two
  h = Histogram(p, logits, 2000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(h.count(2), 0u);
}

TEST(SamplerTest, MinPDropsTokensBelowFractionOfTheBest) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.4f;
  // Relative to the best (0.5): 0.3 is 0.6 of it (kept), 0.21 is 0.42 (kept), 0.01 is 0.02 (dropped).
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.21f), std::log(0.01f)};
  auto h = Histogram(p, logits, 3000);
  EXPECT_EQ(h.count(3), 0u);
  EXPECT_GT(h[2], 0);
}

TEST(SamplerTest, TemperatureSharpensAndFlattens) {
  SamplingParams p;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  const std::vector<float> logits = {1.0f, 0.0f};
  p.temperature = 0.1f;  // e^10 : 1 -> almost always token 0
  EXPECT_GT(Histogram(p, logits, 2000)[0], 1990);
  p.temperature = 100.0f;  // nearly uniform
  const int zeros = Histogram(p, logits, 4000)[0];
  EXPECT_GT(zeros, 1800);
  EXPECT_LT(zeros, 2200);
  p.temperature = 1.0f;  // p0 = e/(e+1) = 0.731
  const int z1 = Histogram(p, logits, 10000)[0];
  EXPECT_NEAR(z1 / 10000.0, 0.731, 0.03);
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDiffers) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  std::vector<float> logits(64);
  for (int i = 0; i < 64; ++i) logits[i] = std::sin(i * 0.7f);
  auto run = [&](uint64_t seed) {
    p.seed = seed;
    auto s = Sampler::Create(p, 64);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s->Sample(logits));
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(SamplerTest, MaskRestrictsGreedyAndRandomChoicesToAllowedTokens) {
  std::vector<float> logits(130, 0.0f);
  logits[5] = 9.0f;    // the best, but masked out
  logits[70] = 1.0f;   // allowed, in the second mask word
  logits[129] = 0.5f;  // allowed, in the third
  std::vector<uint64_t> mask(3, 0);
  mask[70 / 64] |= uint64_t{1} << (70 % 64);
  mask[129 / 64] |= uint64_t{1} << (129 % 64);
  auto g = Sampler::Create(Greedy(), 130);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->Sample(logits, mask), 70);
  EXPECT_EQ(g->Sample(logits), 5);
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 7;
  auto r = Sampler::Create(p, 130);
  ASSERT_TRUE(r.ok());
  std::map<int32_t, int> seen;
  for (int i = 0; i < 200; ++i) ++seen[r->Sample(logits, mask)];
  EXPECT_EQ(seen.size(), 2u);  // only 70 and 129, both drawn at a high temperature
  EXPECT_GT(seen[70], 0);
  EXPECT_GT(seen[129], 0);
}

TEST(SamplerTest, LogprobsAreLogSoftmaxOfTheRawLogits) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f};
  const TokenLogprobs lp = Sampler::Logprobs(logits, 2, 3);
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_NEAR(lp.chosen.logprob, 2.0 - std::log(z), 1e-5);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].token, 1);  // ties by lower id
  EXPECT_EQ(lp.top[1].token, 3);
  EXPECT_EQ(lp.top[2].token, 2);
  EXPECT_NEAR(lp.top[0].logprob, 3.0 - std::log(z), 1e-5);
  EXPECT_TRUE(Sampler::Logprobs(logits, 0, 0).top.empty());
}

}  // namespace
}  // namespace swarmkv
