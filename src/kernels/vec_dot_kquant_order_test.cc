// Where Q4_K's min term and Q6_K's -32 offset round (numerics version 5): in ggml-cpu's AVX2
// lanes, the order llama.cpp's AVX2 build sums in (ggml_vec_dot_q4_K_q8_K / _q6_K_q8_K).
// Known answers on blocks built so that only the term under test is nonzero, at every ISA level;
// each test also checks that the order it replaced (the term in one float) gives other bits on
// its inputs, so it can fail.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

BlockQ8_K Activation(float d, const int8_t (&qs)[kQK_K]) {
  BlockQ8_K x{};
  x.d = d;
  std::memcpy(x.qs, qs, sizeof(qs));
  for (int g = 0; g < kQK_K / 16; ++g) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += qs[16 * g + l];
    x.bsums[g] = static_cast<int16_t>(sum);
  }
  return x;
}

// Q4_K blocks whose 8 scales are 0 (the dot is its min term alone) and whose mins are
// mn[0..7] (6-bit for j < 4, 4-bit for j >= 4 — what these bytes can hold with scales 0):
// dot = -((L0 + L2) + (L1 + L3)), lane m = fma over blocks of dmin_w * d_x times
// mn[2m] * (bs[4m] + bs[4m+1]) + mn[2m+1] * (bs[4m+2] + bs[4m+3]).
TEST(KQuantOrderTest, Q4_KMinTermSumsInFourFloatLanes) {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> q8(-127, 127), byte(0, 255);
  const int mn[8] = {5, 11, 23, 37, 3, 9, 14, 6};
  int differs_from_one_float = 0;
  for (int trial = 0; trial < 50; ++trial) {
    BlockQ4_K w[2];
    BlockQ8_K x[2];
    float lanes[4] = {}, one_float = 0;
    for (int b = 0; b < 2; ++b) {
      std::memset(&w[b], 0, sizeof(w[b]));
      w[b].d = F32ToF16(0.25f);
      w[b].dmin = F32ToF16(0.0137f * (b + 1));
      for (int j = 0; j < 4; ++j) w[b].scales[4 + j] = static_cast<uint8_t>(mn[j]);
      for (int j = 4; j < 8; ++j) w[b].scales[4 + j] = static_cast<uint8_t>(mn[j] << 4);
      for (uint8_t& q : w[b].qs) q = static_cast<uint8_t>(byte(rng));  // any nibbles: scale 0
      int8_t qs[kQK_K];
      for (int8_t& v : qs) v = static_cast<int8_t>(q8(rng));
      x[b] = Activation(0.011f + 0.001f * trial, qs);
      const float dmin = F16ToF32(w[b].dmin) * x[b].d;
      int32_t total = 0;
      for (int m = 0; m < 4; ++m) {
        const int32_t p = mn[2 * m] * (x[b].bsums[4 * m] + x[b].bsums[4 * m + 1]) +
                          mn[2 * m + 1] * (x[b].bsums[4 * m + 2] + x[b].bsums[4 * m + 3]);
        lanes[m] = std::fma(dmin, static_cast<float>(p), lanes[m]);
        total += p;
      }
      one_float = std::fma(dmin, static_cast<float>(total), one_float);
    }
    const float want = 0.0f - ((lanes[0] + lanes[2]) + (lanes[1] + lanes[3]));
    if (FloatBits(want) != FloatBits(0.0f - one_float)) ++differs_from_one_float;
    for (Isa isa : SupportedIsas()) {
      const float got = GetVecDot(TensorType::kQ4_K, isa)(2 * kQK_K, w, x);
      ASSERT_EQ(FloatBits(got), FloatBits(want)) << IsaName(isa) << " trial " << trial << ": " << got << " vs " << want;
    }
  }
  EXPECT_GT(differs_from_one_float, 0) << "the inputs do not tell the four lanes from one float";
}

// A Q6_K block whose weights are 0 (q = 32) except element e (q = 32 + k), against an
// activation that is zero except element e (x): the offset is subtracted inside the integer
// lane, so the dot is exactly fl(d * scale * k * x) with d = d_w * d_x — not fl(d * scale *
// (32 + k) * x) - fl(d * 32 * scale * x), the separate-term order.
TEST(KQuantOrderTest, Q6_KOffsetIsSubtractedInTheIntegerLanes) {
  int differs_from_separate_term = 0;
  for (int e : {0, 5, 77, 200}) {
    for (int k : {1, -7, 31}) {
      for (int xv = -127; xv <= 127; xv += 9) {
        BlockQ6_K w;
        std::memset(&w, 0, sizeof(w));
        std::memset(w.qh, 0xAA, sizeof(w.qh));  // every high 2-bit field 2: q = 32 (weight 0)
        // Element e: which half, which of the 4 32-element quarter groups, which ql/qh bits.
        const int h = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
        const int q = 32 + k;
        uint8_t& ql = w.ql[64 * h + l + (quarter & 1) * 32];
        ql = static_cast<uint8_t>(ql | ((q & 0xF) << (quarter >= 2 ? 4 : 0)));
        uint8_t& qh = w.qh[32 * h + l];
        qh = static_cast<uint8_t>((qh & ~(3 << (2 * quarter))) | (((q >> 4) & 3) << (2 * quarter)));
        for (int g = 0; g < 16; ++g) w.scales[g] = static_cast<int8_t>(g % 2 == 0 ? 3 + g : -(g + 1));
        w.d = F32ToF16(0.1f);
        int8_t qs[kQK_K] = {};
        qs[e] = static_cast<int8_t>(xv);
        const BlockQ8_K x = Activation(0.37f, qs);
        const int scale = w.scales[e / 16];
        const float d = F16ToF32(w.d) * x.d;
        const float want = d * static_cast<float>(scale * k * xv);
        const float separate = d * static_cast<float>(scale * q * xv) - d * static_cast<float>(32 * scale * xv);
        if (FloatBits(want) != FloatBits(separate)) ++differs_from_separate_term;
        for (Isa isa : SupportedIsas()) {
          const float got = GetVecDot(TensorType::kQ6_K, isa)(kQK_K, &w, &x);
          ASSERT_EQ(FloatBits(got), FloatBits(want))
              << IsaName(isa) << " element " << e << " k " << k << " x " << xv << ": " << got << " vs " << want;
        }
      }
    }
  }
  EXPECT_GT(differs_from_separate_term, 0) << "the inputs do not tell the in-lane offset from a separate term";
}

}  // namespace
}  // namespace swarmkv
