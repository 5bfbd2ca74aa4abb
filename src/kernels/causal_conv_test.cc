// CausalConv (kernels/causal_conv.h): the formula against a double-precision reference, the
// summation order of ggml_ssm_conv in llama.cpp's AVX2 build exactly (an independent float loop:
// 3 taps fused, 4 taps products then adds), and the same bits at every ISA level,
// with and without the gate, for channel counts that leave SIMD tails and for any row range.
#include "kernels/causal_conv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "base/prng.h"

namespace swarmkv {
namespace {

struct Case {
  int32_t taps;
  int64_t channels, n;
  bool gate;
};

struct Data {
  std::vector<float> xe, w, g;
  int64_t stride = 0;
};

Data MakeData(const Case& c, uint64_t seed) {
  Xoshiro256 rng(seed);
  Data d;
  d.stride = c.channels + 3;  // rows wider than C: strides are honoured
  d.xe.resize((c.taps - 1 + c.n) * d.stride);
  d.w.resize(c.taps * c.channels);
  d.g.resize(c.n * (c.channels + 1));
  for (float& v : d.xe) v = rng.Symmetric(2.0f);
  for (float& v : d.w) v = rng.Symmetric(1.0f);
  for (float& v : d.g) v = rng.Symmetric(1.5f);
  return d;
}

std::vector<float> RunConv(const Case& c, const Data& d, Isa isa, int64_t t0, int64_t t1) {
  std::vector<float> y(c.n * c.channels, -7.0f);
  CausalConvArgs a;
  a.xe = d.xe.data();
  a.xe_stride = d.stride;
  a.w = d.w.data();
  a.taps = c.taps;
  a.channels = c.channels;
  a.n = c.n;
  a.gate = c.gate ? d.g.data() : nullptr;
  a.gate_stride = c.channels + 1;
  a.y = y.data();
  a.y_stride = c.channels;
  CausalConv(a, t0, t1, isa);
  return y;
}

const Case kCases[] = {{3, 1024, 9, true}, {3, 37, 5, true}, {4, 53, 6, false}, {1, 24, 3, true},
                       {2, 16, 1, false},  {3, 8, 4, true},  {5, 100, 7, true}, {4, 1792, 3, false},
                       {8, 40, 3, false},  {11, 33, 2, true}};

TEST(CausalConvTest, MatchesTheFormulaAndGgmlsSummationOrder) {
  for (const Case& c : kCases) {
    const Data d = MakeData(c, 19 + c.channels);
    const std::vector<float> y = RunConv(c, d, Isa::kScalar, 0, c.n);
    for (int64_t t = 0; t < c.n; ++t) {
      for (int64_t ch = 0; ch < c.channels; ++ch) {
        double ref = 0.0;
        // ggml_ssm_conv of llama.cpp's AVX2 build: float sum from 0, k ascending; the taps of
        // its 8- and 4-wide vector blocks are products then adds, the remainder's are fused.
        volatile float ordered = 0.0f;
        for (int32_t k = 0; k < c.taps; ++k) {
          const float xv = d.xe[(t + k) * d.stride + ch], wv = d.w[k * c.channels + ch];
          ref += double(xv) * double(wv);
          const volatile float p = xv * wv;
          ordered = k < c.taps / 4 * 4 ? ordered + p : std::fma(xv, wv, static_cast<float>(ordered));
        }
        float expect = ordered;
        if (c.gate) {
          const float gv = d.g[t * (c.channels + 1) + ch];
          ref *= gv;
          expect = gv * expect;
        }
        const float got = y[t * c.channels + ch];
        ASSERT_NEAR(got, ref, 1e-5 * (1.0 + std::fabs(ref))) << "taps " << c.taps << " row " << t << " ch " << ch;
        ASSERT_EQ(std::memcmp(&got, &expect, 4), 0) << "summation order, taps " << c.taps << " row " << t << " ch " << ch;
      }
    }
  }
}

TEST(CausalConvTest, EveryIsaLevelGivesTheScalarBits) {
  for (const Case& c : kCases) {
    const Data d = MakeData(c, 7 * c.channels + c.taps);
    const std::vector<float> scalar = RunConv(c, d, Isa::kScalar, 0, c.n);
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      if (!IsaSupported(isa)) {
        std::printf("[ skipped ] %s not supported by this CPU\n", std::string(IsaName(isa)).c_str());
        continue;
      }
      const std::vector<float> y = RunConv(c, d, isa, 0, c.n);
      EXPECT_EQ(std::memcmp(y.data(), scalar.data(), y.size() * 4), 0)
          << IsaName(isa) << " channels " << c.channels << " taps " << c.taps;
    }
  }
}

TEST(CausalConvTest, RowRangesComposeToTheWholeAndTouchNothingElse) {
  const Case c{3, 70, 8, true};
  const Data d = MakeData(c, 5);
  const std::vector<float> whole = RunConv(c, d, ActiveIsa(), 0, c.n);
  const std::vector<float> part = RunConv(c, d, ActiveIsa(), 2, 5);
  for (int64_t t = 0; t < c.n; ++t) {
    for (int64_t ch = 0; ch < c.channels; ++ch) {
      const float p = part[t * c.channels + ch];
      if (t >= 2 && t < 5) {
        EXPECT_EQ(p, whole[t * c.channels + ch]);
      } else {
        EXPECT_EQ(p, -7.0f) << "row " << t << " outside [2, 5) was written";
      }
    }
  }
}

}  // namespace
}  // namespace swarmkv
