#include "kernels/moe_router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "kernels/ops.h"

namespace swarmkv {
namespace {

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

Routed Route(const MoeRouting& r, std::vector<float> logits) {
  std::vector<float> probs(r.n_expert);
  Routed out{std::vector<int32_t>(r.n_used), std::vector<float>(r.n_used)};
  MoeRoute(r, logits.data(), probs.data(), out.ids.data(), out.weights.data());
  return out;
}

TEST(MoeRouterTest, EqualLogitsPickTheLowestIndicesWithEqualWeights) {
  const Routed got = Route({16, 4, true, 0.0f}, std::vector<float>(16, 0.25f));
  EXPECT_EQ(got.ids, (std::vector<int32_t>{0, 1, 2, 3}));
  for (float w : got.weights) EXPECT_EQ(w, 0.25f);
  // A tie at the cut: experts 3 and 9 share the 2nd-best logit; 3 wins, and the order is by rank.
  std::vector<float> l(16, 0.0f);
  l[9] = 1.0f, l[3] = 1.0f, l[12] = 2.0f;
  EXPECT_EQ(Route({16, 2, false, 0.0f}, l).ids, (std::vector<int32_t>{12, 3}));
}

// Against a double-precision softmax and a plain sort: the same experts (distinct logits), the
// weights within float rounding, normalised to sum 1 or the plain probabilities.
TEST(MoeRouterTest, MatchesADoubleReference) {
  std::mt19937 rng(18);
  std::normal_distribution<float> dist(0.0f, 1.5f);
  for (int32_t n_expert : {5, 8, 60, 128}) {
    for (bool normalize : {false, true}) {
      std::vector<float> logits(n_expert);
      for (float& x : logits) x = dist(rng);
      const int32_t k = std::min(n_expert, 8);
      const Routed got = Route({n_expert, k, normalize, 0.0f}, logits);
      std::vector<int32_t> order(n_expert);
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
      double m = *std::max_element(logits.begin(), logits.end()), z = 0, zk = 0;
      for (float x : logits) z += std::exp(x - m);
      for (int32_t r = 0; r < k; ++r) zk += std::exp(logits[order[r]] - m);
      for (int32_t r = 0; r < k; ++r) {
        ASSERT_EQ(got.ids[r], order[r]) << "n_expert " << n_expert << " rank " << r;
        const double want = std::exp(logits[order[r]] - m) / (normalize ? zk : z);
        EXPECT_NEAR(got.weights[r], want, 2e-6 * want) << n_expert;
      }
    }
  }
}

TEST(MoeRouterTest, WeightsScaleMultipliesAndNaNLogitsStillGiveDistinctExperts) {
  std::vector<float> l = {0.5f, -1.0f, 2.0f, 0.0f};
  const Routed plain = Route({4, 2, true, 0.0f}, l);
  const Routed scaled = Route({4, 2, true, 2.5f}, l);
  for (int r = 0; r < 2; ++r) EXPECT_EQ(scaled.weights[r], plain.weights[r] * 2.5f);
  l[1] = NAN;
  const Routed nan = Route({4, 4, false, 0.0f}, l);
  EXPECT_EQ(std::set<int32_t>(nan.ids.begin(), nan.ids.end()).size(), 4u);
}

// gpt-oss's gating (softmax_weight): the top k by raw logit, weighted by a softmax over those k
// alone — ggml soft_max of the k selected logits, rank order, bit for bit — and the double
// definition to float rounding. The full softmax would give other weights (they sum to 1 here).
TEST(MoeRouterTest, SoftmaxWeightGatingIsSoftmaxOverTheTopKLogits) {
  std::mt19937 rng(19);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  for (int32_t n_expert : {4, 8, 32}) {
    std::vector<float> logits(n_expert);
    for (float& x : logits) x = dist(rng);
    const int32_t k = 4;
    MoeRouting r{n_expert, k, false, 0.0f, true};
    const Routed got = Route(r, logits);
    std::vector<int32_t> order(n_expert);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
    std::vector<float> top(k);
    for (int32_t i = 0; i < k; ++i) top[i] = logits[order[i]];
    std::vector<float> bits = top;
    GgmlSoftmaxAvx2Order(bits.data(), k);
    double m = top[0], z = 0, sum = 0;
    for (float x : top) z += std::exp(x - m);
    for (int32_t i = 0; i < k; ++i) {
      ASSERT_EQ(got.ids[i], order[i]) << n_expert;
      EXPECT_EQ(got.weights[i], bits[i]) << n_expert << " rank " << i;
      EXPECT_NEAR(got.weights[i], std::exp(top[i] - m) / z, 1e-6) << n_expert;
      sum += got.weights[i];
    }
    EXPECT_NEAR(sum, 1.0, 1e-6);
    if (n_expert > k) {
      const Routed softmax_first = Route({n_expert, k, false, 0.0f}, logits);
      EXPECT_NE(softmax_first.weights, got.weights);
    }
  }
}

// The ggml AVX2-order softmax: below 8 elements it is the plain softmax (expf tail) bit for bit;
// above, probabilities sum to 1 and follow the double reference to float rounding.
TEST(MoeRouterTest, GgmlOrderSoftmax) {
  std::vector<float> a = {0.1f, -2.0f, 3.0f, 0.7f, 1.1f};
  std::vector<float> b = a;
  GgmlSoftmaxAvx2Order(a.data(), 5);
  Softmax(b.data(), 5);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), 5 * sizeof(float)));
  std::vector<float> x(131);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * i) * 4.0f;
  std::vector<float> y = x;
  GgmlSoftmaxAvx2Order(y.data(), static_cast<int64_t>(y.size()));
  double m = *std::max_element(x.begin(), x.end()), z = 0, s = 0;
  for (float v : x) z += std::exp(v - m);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(y[i], std::exp(x[i] - m) / z, 1e-6 * std::exp(x[i] - m) / z + 1e-12);
    s += y[i];
  }
  EXPECT_NEAR(s, 1.0, 1e-5);
}

}  // namespace
}  // namespace swarmkv
