#include "kernels/ssm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/ops.h"

namespace swarmkv {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  // Empty vectors (a kernel of 1 keeps no conv state) may have null data: memcmp must not see them.
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

struct ScanCase {
  int64_t n_head, head_dim, d_state, n_group, T;
};

// Inputs of one scan call over T tokens (rows packed: strides = widths).
struct ScanInputs {
  ScanCase c;
  std::vector<float> x, dt, B, C, A, D, dt_bias, state;
  explicit ScanInputs(const ScanCase& k, uint32_t seed) : c(k) {
    const int64_t inner = k.n_head * k.head_dim, bc = k.n_group * k.d_state;
    x = Random(k.T * inner, seed);
    dt = Random(k.T * k.n_head, seed + 1, -3.0f, 1.0f);
    dt[0] = 25.0f;  // softplus' linear branch (x > 20)
    B = Random(k.T * bc, seed + 2);
    C = Random(k.T * bc, seed + 3);
    A = Random(k.n_head, seed + 4, -8.0f, -0.05f);
    D = Random(k.n_head, seed + 5);
    dt_bias = Random(k.n_head, seed + 6, -1.0f, 0.5f);
    state = Random(k.n_head * k.head_dim * k.d_state, seed + 7, -0.5f, 0.5f);
  }
  SsmScanArgs Args(Isa isa, ThreadPool* pool = nullptr) const {
    SsmScanArgs a;
    a.n_head = c.n_head, a.head_dim = c.head_dim, a.d_state = c.d_state, a.n_group = c.n_group;
    a.A = A.data(), a.D = D.data(), a.dt_bias = dt_bias.data(), a.isa = isa, a.pool = pool;
    return a;
  }
  // Runs tokens [t0, t0 + n) on `s`, writing their y rows into y (T rows).
  void Run(Isa isa, int64_t t0, int64_t n, std::vector<float>* s, std::vector<float>* y, ThreadPool* pool = nullptr) const {
    const int64_t inner = c.n_head * c.head_dim, bc = c.n_group * c.d_state;
    ASSERT_TRUE(SsmScan(Args(isa, pool), x.data() + t0 * inner, inner, dt.data() + t0 * c.n_head, c.n_head,
                        B.data() + t0 * bc, C.data() + t0 * bc, bc, n, s->data(), y->data() + t0 * inner, inner)
                    .ok());
  }
};

// The scan in double precision, straight from the definition.
void ReferenceScan(const ScanInputs& in, std::vector<double>* state, std::vector<double>* y) {
  const ScanCase& c = in.c;
  state->assign(in.state.begin(), in.state.end());
  y->assign(c.T * c.n_head * c.head_dim, 0.0);
  const int64_t inner = c.n_head * c.head_dim, bc = c.n_group * c.d_state;
  for (int64_t t = 0; t < c.T; ++t) {
    for (int64_t h = 0; h < c.n_head; ++h) {
      const double dtv = double(in.dt[t * c.n_head + h]) + in.dt_bias[h];
      const double sp = dtv > 20.0 ? dtv : std::log1p(std::exp(dtv));
      const double dA = std::exp(sp * in.A[h]);
      const int64_t g = h / (c.n_head / c.n_group);
      for (int64_t i = 0; i < c.head_dim; ++i) {
        const double xv = in.x[t * inner + h * c.head_dim + i];
        double sum = 0;
        for (int64_t j = 0; j < c.d_state; ++j) {
          double& s = (*state)[(h * c.head_dim + i) * c.d_state + j];
          s = s * dA + double(in.B[t * bc + g * c.d_state + j]) * xv * sp;
          sum += s * in.C[t * bc + g * c.d_state + j];
        }
        (*y)[t * inner + h * c.head_dim + i] = sum + xv * in.D[h];
      }
    }
  }
}

const ScanCase kScanCases[] = {
    {4, 8, 128, 1, 7},   // Mamba-2 / granite-4.0-h: d_state 128, one group
    {6, 4, 64, 2, 5},    // two groups of three heads
    {3, 5, 77, 3, 4},    // d_state with a remainder after the 32-element steps
    {2, 3, 16, 1, 6},    // remainder only (no full step)
    {8, 2, 32, 4, 3},
};

TEST(SsmScanTest, EveryIsaMatchesScalarBitForBit) {
  for (const ScanCase& c : kScanCases) {
    ScanInputs in(c, 11);
    std::vector<float> s0 = in.state, y0(c.T * c.n_head * c.head_dim);
    in.Run(Isa::kScalar, 0, c.T, &s0, &y0);
    for (Isa isa : SupportedIsas()) {
      std::vector<float> s = in.state, y(y0.size());
      in.Run(isa, 0, c.T, &s, &y);
      EXPECT_TRUE(SameBits(s, s0)) << IsaName(isa) << " d_state " << c.d_state;
      EXPECT_TRUE(SameBits(y, y0)) << IsaName(isa) << " d_state " << c.d_state;
    }
  }
}

TEST(SsmScanTest, ScalarMatchesDoublePrecisionReference) {
  for (const ScanCase& c : kScanCases) {
    ScanInputs in(c, 23);
    std::vector<float> s = in.state, y(c.T * c.n_head * c.head_dim);
    in.Run(Isa::kScalar, 0, c.T, &s, &y);
    std::vector<double> rs, ry;
    ReferenceScan(in, &rs, &ry);
    double worst = 0;
    for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::fabs(y[i] - ry[i]) / (1.0 + std::fabs(ry[i])));
    for (size_t i = 0; i < s.size(); ++i) worst = std::max(worst, std::fabs(s[i] - rs[i]) / (1.0 + std::fabs(rs[i])));
    EXPECT_LT(worst, 2e-5) << "d_state " << c.d_state;
  }
}

TEST(SsmScanTest, PrefillEqualsTokenByTokenAndAnySplitOrThreads) {
  ThreadPool pool(3);
  for (const ScanCase& c : kScanCases) {
    ScanInputs in(c, 37);
    for (Isa isa : SupportedIsas()) {
      std::vector<float> s_all = in.state, y_all(c.T * c.n_head * c.head_dim);
      in.Run(isa, 0, c.T, &s_all, &y_all);
      std::vector<float> s_one = in.state, y_one(y_all.size());
      for (int64_t t = 0; t < c.T; ++t) in.Run(isa, t, 1, &s_one, &y_one);
      EXPECT_TRUE(SameBits(s_one, s_all)) << IsaName(isa);
      EXPECT_TRUE(SameBits(y_one, y_all)) << IsaName(isa);
      // A split at 2 with the state carried over (a checkpoint restore), threaded.
      std::vector<float> s_split = in.state, y_split(y_all.size());
      in.Run(isa, 0, 2, &s_split, &y_split, &pool);
      in.Run(isa, 2, c.T - 2, &s_split, &y_split, &pool);
      EXPECT_TRUE(SameBits(s_split, s_all)) << IsaName(isa);
      EXPECT_TRUE(SameBits(y_split, y_all)) << IsaName(isa);
    }
  }
}

TEST(SsmScanTest, RejectsBadShapes) {
  ScanInputs in({4, 8, 16, 1, 2}, 1);
  std::vector<float> y(2 * 32);
  SsmScanArgs a = in.Args(Isa::kScalar);
  a.n_group = 3;  // 4 heads do not split into 3 groups
  EXPECT_EQ(SsmScan(a, in.x.data(), 32, in.dt.data(), 4, in.B.data(), in.C.data(), 16, 2, in.state.data(), y.data(), 32)
                .code(),
            StatusCode::kInvalidArgument);
  a = in.Args(Isa::kScalar);
  a.A = nullptr;
  EXPECT_FALSE(SsmScan(a, in.x.data(), 32, in.dt.data(), 4, in.B.data(), in.C.data(), 16, 2, in.state.data(), y.data(), 32).ok());
  a = in.Args(Isa::kScalar);
  EXPECT_FALSE(SsmScan(a, in.x.data(), 31, in.dt.data(), 4, in.B.data(), in.C.data(), 16, 2, in.state.data(), y.data(), 32).ok());
}

// Conv: T rows of `channels` inputs, packed.
struct ConvInputs {
  int64_t channels;
  int kernel;
  int64_t T;
  std::vector<float> x, w, b, state;
  ConvInputs(int64_t ch, int k, int64_t t, uint32_t seed) : channels(ch), kernel(k), T(t) {
    x = Random(t * ch, seed);
    w = Random(ch * k, seed + 1);
    b = Random(ch, seed + 2, -0.1f, 0.1f);
    state = Random((k - 1) * ch, seed + 3);
  }
  void Run(Isa isa, int64_t t0, int64_t n, std::vector<float>* s, std::vector<float>* y) const {
    SsmConvArgs a;
    a.channels = channels, a.kernel = kernel, a.weight = w.data(), a.bias = b.data(), a.isa = isa;
    ASSERT_TRUE(SsmConv1d(a, x.data() + t0 * channels, channels, n, s->data(), y->data() + t0 * channels, channels).ok());
  }
};

TEST(SsmConvTest, EveryIsaMatchesScalarAndDoubleReference) {
  for (auto [ch, k] : {std::pair<int64_t, int>{1792, 4}, {37, 4}, {53, 2}, {19, 1}, {24, 7}}) {
    ConvInputs in(ch, k, 9, 5);
    std::vector<float> s0 = in.state, y0(in.T * ch);
    in.Run(Isa::kScalar, 0, in.T, &s0, &y0);
    for (Isa isa : SupportedIsas()) {
      std::vector<float> s = in.state, y(y0.size());
      in.Run(isa, 0, in.T, &s, &y);
      EXPECT_TRUE(SameBits(s, s0)) << IsaName(isa) << " channels " << ch;
      EXPECT_TRUE(SameBits(y, y0)) << IsaName(isa) << " channels " << ch;
    }
    // Double reference: the window over [old state; x], causal.
    // ch and k are copied in: clang 14 cannot capture structured bindings (C++20 allows it).
    auto input = [&in, ch = ch, k = k](int64_t u, int64_t c) -> double {  // time u, u < 0: old state
      return u < 0 ? in.state[(u + k - 1) * ch + c] : in.x[u * ch + c];
    };
    for (int64_t t = 0; t < in.T; ++t) {
      for (int64_t c = 0; c < ch; ++c) {
        double ref = in.b[c];
        for (int j = 0; j < k; ++j) ref += input(t - (k - 1) + j, c) * in.w[c * k + j];
        EXPECT_NEAR(y0[t * ch + c], ref, 1e-5) << t << " " << c;
        // The bits: the one conv kernel's order (kernels/causal_conv.h), then + bias.
        volatile float sum = 0.0f;
        for (int j = 0; j < k; ++j) {
          const float xv = static_cast<float>(input(t - (k - 1) + j, c)), wv = in.w[c * k + j];
          const volatile float p = xv * wv;
          sum = j < k / 4 * 4 ? sum + p : std::fma(xv, wv, static_cast<float>(sum));
        }
        const float want = sum + in.b[c];
        EXPECT_EQ(std::memcmp(&y0[t * ch + c], &want, 4), 0) << "order, kernel " << k << " at " << t << " " << c;
      }
    }
    // The new state is the last k-1 inputs.
    for (int j = 0; j < k - 1; ++j)
      for (int64_t c = 0; c < ch; ++c) EXPECT_EQ(s0[j * ch + c], input(in.T - (k - 1) + j, c));
  }
}

TEST(SsmConvTest, PrefillEqualsTokenByTokenAndShortRuns) {
  ConvInputs in(72, 4, 11, 9);
  for (Isa isa : SupportedIsas()) {
    std::vector<float> s_all = in.state, y_all(in.T * in.channels);
    in.Run(isa, 0, in.T, &s_all, &y_all);
    std::vector<float> s_one = in.state, y_one(y_all.size());
    for (int64_t t = 0; t < in.T; ++t) in.Run(isa, t, 1, &s_one, &y_one);
    EXPECT_TRUE(SameBits(s_one, s_all)) << IsaName(isa);
    EXPECT_TRUE(SameBits(y_one, y_all)) << IsaName(isa);
    // Runs of 2 (shorter than the history) then the rest.
    std::vector<float> s_two = in.state, y_two(y_all.size());
    for (int64_t t = 0; t < 6; t += 2) in.Run(isa, t, 2, &s_two, &y_two);
    in.Run(isa, 6, in.T - 6, &s_two, &y_two);
    EXPECT_TRUE(SameBits(s_two, s_all)) << IsaName(isa);
    EXPECT_TRUE(SameBits(y_two, y_all)) << IsaName(isa);
  }
}

TEST(SsmConvTest, RejectsBadArguments) {
  std::vector<float> x(8), y(8), s(24), w(32);
  SsmConvArgs a;
  a.channels = 8, a.kernel = 0, a.weight = w.data();
  EXPECT_EQ(SsmConv1d(a, x.data(), 8, 1, s.data(), y.data(), 8).code(), StatusCode::kInvalidArgument);
  a.kernel = 4;
  EXPECT_FALSE(SsmConv1d(a, x.data(), 8, 1, nullptr, y.data(), 8).ok());
  EXPECT_FALSE(SsmConv1d(a, x.data(), 7, 1, s.data(), y.data(), 8).ok());
  a.weight = nullptr;
  EXPECT_FALSE(SsmConv1d(a, x.data(), 8, 1, s.data(), y.data(), 8).ok());
}

TEST(SsmOpsTest, SiluSameOnEveryIsaAndCloseToDouble) {
  std::vector<float> x = Random(203, 3, -30.0f, 30.0f);
  x[0] = 0.0f, x[1] = -100.0f, x[2] = 100.0f, x[202] = -1e-3f;
  std::vector<float> y0(x.size());
  Silu(x.data(), y0.data(), static_cast<int64_t>(x.size()), Isa::kScalar);
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = x[i] / (1.0 + std::exp(-double(x[i])));
    EXPECT_NEAR(y0[i], ref, 1e-6 * (1.0 + std::fabs(ref))) << x[i];
  }
  for (Isa isa : SupportedIsas()) {
    std::vector<float> y = x;
    Silu(y.data(), y.data(), static_cast<int64_t>(y.size()), isa);  // in place
    EXPECT_TRUE(SameBits(y, y0)) << IsaName(isa);
  }
}

TEST(SsmOpsTest, SoftplusBranches) {
  EXPECT_EQ(Softplus(25.0f), 25.0f);
  EXPECT_NEAR(Softplus(0.0f), std::log(2.0), 1e-7);
  EXPECT_NEAR(Softplus(-5.0f), std::log1p(std::exp(-5.0)), 1e-7);
}

TEST(SsmOpsTest, GatedGroupRmsNormMatchesDouble) {
  const int64_t head_dim = 12, n = 48, groups = 2;
  std::vector<float> z = Random(n, 4), y = Random(n, 5), w = Random(n, 6, 0.5f, 1.5f);
  std::vector<double> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = double(z[i]) / (1.0 + std::exp(-double(z[i]))) * y[i];
  const int64_t gs = n / groups;
  for (int64_t g = 0; g < groups; ++g) {
    double ss = 0;
    for (int64_t i = 0; i < gs; ++i) ss += ref[g * gs + i] * ref[g * gs + i];
    const double scale = 1.0 / std::sqrt(ss / gs + 1e-6);
    for (int64_t i = 0; i < gs; ++i) ref[g * gs + i] *= scale * w[g * gs + i];
  }
  GatedGroupRmsNorm(z.data(), y.data(), w.data(), head_dim, n, groups, 1e-6f);
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], ref[i], 1e-5 * (1.0 + std::fabs(ref[i]))) << i;
}

}  // namespace
}  // namespace swarmkv
