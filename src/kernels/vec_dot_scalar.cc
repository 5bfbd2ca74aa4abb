// Scalar reference dot products (the twin every SIMD kernel is tested against).
// Float rows follow ggml-cpu's AVX2 order lane by lane (the AVX2 kernels' bits); quantized
// blocks accumulate exact integer sums per block, then scale in float.
#include <cmath>
#include <cstring>

#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

// Float rows (f32/f16/bf16) in ggml-cpu's AVX2 vec_dot order, lane by lane, so the AVX2
// kernels (vec_dot_avx2.cc, FinishFloat/TileFloat) give the same bits: four accumulators of 8
// lanes over n & ~31 elements (accumulator j fuses elements 32b + 8j + l in order), reduced
// (a0 + a2) + (a1 + a3), halves added (lane k + lane k+4), the 4 lanes summed as
// (l0 + l1) + (l2 + l3) (two hadds; f32, f16) or (l0 + l2) + (l1 + l3) (movehl/movehdup; bf16),
// then the leftovers in element order: f16/bf16 in double, f32 in float with the first
// (rem & ~3) products rounded before adding and the last rem % 4 fused.
// (This file is built with -ffp-contract=off: only std::fma fuses.)
enum class FloatTail { kF32, kDouble };

template <typename T, float (*ToF)(T), FloatTail kTail, bool kHadd>
float DotFloatGgml(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const T*>(w);
  const auto* b = static_cast<const T*>(x);
  const int64_t n32 = n & ~int64_t{31};
  float acc[4][8] = {};
  for (int64_t i = 0; i < n32; i += 32) {
    for (int j = 0; j < 4; ++j) {
      for (int l = 0; l < 8; ++l) {
        const int64_t e = i + 8 * j + l;
        acc[j][l] = std::fma(ToF(a[e]), ToF(b[e]), acc[j][l]);
      }
    }
  }
  float v[8], h[4];
  for (int l = 0; l < 8; ++l) v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  for (int k = 0; k < 4; ++k) h[k] = v[k] + v[k + 4];
  const float hs = kHadd ? (h[0] + h[1]) + (h[2] + h[3]) : (h[0] + h[2]) + (h[1] + h[3]);
  if constexpr (kTail == FloatTail::kDouble) {
    double s = hs;
    for (int64_t i = n32; i < n; ++i) s += static_cast<double>(ToF(a[i]) * ToF(b[i]));
    return static_cast<float>(s);
  } else {
    float s = hs;
    const int64_t unfused_end = n32 + ((n - n32) & ~int64_t{3});
    for (int64_t i = n32; i < unfused_end; ++i) {
      const float p = ToF(a[i]) * ToF(b[i]);
      s += p;
    }
    for (int64_t i = unfused_end; i < n; ++i) s = std::fma(ToF(a[i]), ToF(b[i]), s);
    return s;
  }
}

inline float IdF32(float f) { return f; }
inline float F16F(f16_t h) { return F16ToF32(h); }
inline float BF16F(bf16_t h) { return BF16ToF32(h); }

// Q8_0 / Q4_0 x Q8_0 in the AVX2 kernels' (and ggml-cpu's x86) order, so every ISA gives the
// same bits: per block, 8 integer lane sums of 4 consecutive products each, fused into 8 float
// accumulators with scale d_w * d_x; one horizontal sum at the end, (l0+l4 + l2+l6) +
// (l1+l5 + l3+l7) as HsumF32x8 / hsum_float_8 add them.
float HsumLanes8(const float acc[8]) {
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = acc[l] + acc[l + 4];
  return (t[0] + t[2]) + (t[1] + t[3]);
}

// Element j of a block as the integer the dot multiplies (what the AVX2 LoadWeightBlock makes).
int WeightQ(const BlockQ8_0& b, int j) { return b.qs[j]; }
int WeightQ(const BlockQ4_0& b, int j) {
  return (j < kQK4_0 / 2 ? (b.qs[j] & 0x0F) : (b.qs[j - kQK4_0 / 2] >> 4)) - 8;
}
// Q5_0: (low nibble | bit j of qh << 4) - 16.
int WeightQ(const BlockQ5_0& b, int j) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof(qh));
  const int lo = j < kQK5_0 / 2 ? (b.qs[j] & 0x0F) : (b.qs[j - kQK5_0 / 2] >> 4);
  return (lo | static_cast<int>(((qh >> j) & 1u) << 4)) - 16;
}

// Q8_0 / Q4_0 / Q5_0 weights (32-element blocks with an f16 scale first) x Q8_0 activations.
template <typename Block>
float DotQ32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float d = F16ToF32(a[i].d) * F16ToF32(b[i].d);
    for (int l = 0; l < 8; ++l) {
      int sumi = 0;
      for (int j = 4 * l; j < 4 * l + 4; ++j) sumi += WeightQ(a[i], j) * b[i].qs[j];
      acc[l] = std::fma(d, static_cast<float>(sumi), acc[l]);
    }
  }
  return HsumLanes8(acc);
}

// K-quants in the AVX2 kernels' order (vec_dot_avx2.cc), so every ISA gives the same bits:
// per 256-element block, 8 exact integer lanes, lane m holding the scaled sums of elements
// 4m .. 4m+3 of every 32-element sub-block; the lanes fused into 8 float accumulators with
// d = d_w * d_x; the min/offset term kept in one float, fused per block; at the end
// HsumLanes8(acc) - that term.

// Q4_K / Q5_K share the structure: 8 sub-blocks of 32 with 6-bit scale and min.
template <bool kFive, typename Block>
float DotQ45_K(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float acc[8] = {};
  float mins = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t sumi[8] = {};
    int32_t summ = 0;
    const int8_t* q8 = b[i].qs;
    for (int sub = 0; sub < 8; ++sub) {
      uint8_t sc, m;
      GetScaleMinK4(sub, a[i].scales, &sc, &m);
      summ += m * (b[i].bsums[2 * sub] + b[i].bsums[2 * sub + 1]);
    }
    for (int c = 0; c < 4; ++c) {  // 64-element chunks: low nibbles then high nibbles
      for (int half = 0; half < 2; ++half) {
        const int sub = 2 * c + half;
        uint8_t sc, m;
        GetScaleMinK4(sub, a[i].scales, &sc, &m);
        for (int lane = 0; lane < 8; ++lane) {
          int32_t dot = 0;
          for (int l = 4 * lane; l < 4 * lane + 4; ++l) {
            int q = half == 0 ? (a[i].qs[32 * c + l] & 0xF) : (a[i].qs[32 * c + l] >> 4);
            if constexpr (kFive) q += ((a[i].qh[l] >> sub) & 1) << 4;
            dot += q * q8[64 * c + 32 * half + l];
          }
          sumi[lane] += sc * dot;
        }
      }
    }
    const float d = F16ToF32(a[i].d) * b[i].d;
    for (int lane = 0; lane < 8; ++lane) acc[lane] = std::fma(d, static_cast<float>(sumi[lane]), acc[lane]);
    const float dmin = F16ToF32(a[i].dmin) * b[i].d;
    mins = std::fma(dmin, static_cast<float>(summ), mins);
  }
  return HsumLanes8(acc) - mins;
}

float DotQ6_K(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float acc[8] = {};
  float fix = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    // q as 0..63 (the -32 offset is the separate `fix` term: 32 * sum(scale * bsum)).
    uint8_t q[kQK_K];
    const uint8_t* ql = a[i].ql;
    const uint8_t* qh = a[i].qh;
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < 32; ++l) {
        q[128 * h + l + 0] = static_cast<uint8_t>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
        q[128 * h + l + 32] = static_cast<uint8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
        q[128 * h + l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
        q[128 * h + l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
      }
      ql += 64;
      qh += 32;
    }
    int32_t corr = 0;
    for (int g = 0; g < 16; ++g) corr += a[i].scales[g] * b[i].bsums[g];
    int32_t sumi[8] = {};
    for (int k = 0; k < 8; ++k) {  // 32-element groups; lanes 0-3 scale 2k, lanes 4-7 scale 2k+1
      for (int lane = 0; lane < 8; ++lane) {
        int32_t dot = 0;
        for (int l = 4 * lane; l < 4 * lane + 4; ++l) dot += q[32 * k + l] * b[i].qs[32 * k + l];
        sumi[lane] += a[i].scales[2 * k + (lane >= 4 ? 1 : 0)] * dot;
      }
    }
    const float d = F16ToF32(a[i].d) * b[i].d;
    for (int lane = 0; lane < 8; ++lane) acc[lane] = std::fma(d, static_cast<float>(sumi[lane]), acc[lane]);
    fix = std::fma(d, static_cast<float>(32 * corr), fix);
  }
  return HsumLanes8(acc) - fix;
}

}  // namespace

namespace internal {
const VecDotTable kVecDotScalar = {
    .f32 = {.one = DotFloatGgml<float, IdF32, FloatTail::kF32, true>},
    .f16 = {.one = DotFloatGgml<f16_t, F16F, FloatTail::kDouble, true>},
    .bf16 = {.one = DotFloatGgml<bf16_t, BF16F, FloatTail::kDouble, false>},
    .q8_0 = {.one = DotQ32<BlockQ8_0>},
    .q4_0 = {.one = DotQ32<BlockQ4_0>},
    .q4_k = {.one = DotQ45_K<false, BlockQ4_K>},
    .q5_k = {.one = DotQ45_K<true, BlockQ5_K>},
    .q6_k = {.one = DotQ6_K},
    .q5_0 = {.one = DotQ32<BlockQ5_0>},
};
}  // namespace internal

}  // namespace swarmkv
