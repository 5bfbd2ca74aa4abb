// Scalar reference dot products (the twin every SIMD kernel is tested against).
// Float rows accumulate in double (as ggml's scalar path); quantized blocks accumulate exact
// integer sums per block, then scale in float.
#include <cmath>

#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

float DotF32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(s);
}

float DotF16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const f16_t*>(w);
  const auto* b = static_cast<const f16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(F16ToF32(a[i]) * F16ToF32(b[i]));
  return static_cast<float>(s);
}

float DotBF16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const bf16_t*>(w);
  const auto* b = static_cast<const bf16_t*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(BF16ToF32(a[i]) * BF16ToF32(b[i]));
  return static_cast<float>(s);
}

// Q8_0 / Q4_0 x Q8_0 in the AVX2 kernels' (and ggml-cpu's x86) order, so every ISA gives the
// same bits: per block, 8 integer lane sums of 4 consecutive products each, fused into 8 float
// accumulators with scale d_w * d_x; one horizontal sum at the end, (l0+l4 + l2+l6) +
// (l1+l5 + l3+l7) as HsumF32x8 / hsum_float_8 add them.
float HsumLanes8(const float acc[8]) {
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = acc[l] + acc[l + 4];
  return (t[0] + t[2]) + (t[1] + t[3]);
}

float DotQ8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float d = F16ToF32(a[i].d) * F16ToF32(b[i].d);
    for (int l = 0; l < 8; ++l) {
      int sumi = 0;
      for (int j = 4 * l; j < 4 * l + 4; ++j) sumi += a[i].qs[j] * b[i].qs[j];
      acc[l] = std::fma(d, static_cast<float>(sumi), acc[l]);
    }
  }
  return HsumLanes8(acc);
}

float DotQ4_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float d = F16ToF32(a[i].d) * F16ToF32(b[i].d);
    for (int l = 0; l < 8; ++l) {
      int sumi = 0;
      for (int j = 4 * l; j < 4 * l + 4; ++j) {
        const int q = j < kQK4_0 / 2 ? (a[i].qs[j] & 0x0F) : (a[i].qs[j - kQK4_0 / 2] >> 4);
        sumi += (q - 8) * b[i].qs[j];
      }
      acc[l] = std::fma(d, static_cast<float>(sumi), acc[l]);
    }
  }
  return HsumLanes8(acc);
}

// Q4_K / Q5_K share the structure: 8 sub-blocks of 32 with 6-bit scale and min.
template <bool kFive, typename Block>
float DotQ45_K(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t sumi = 0, summ = 0;
    const int8_t* q8 = b[i].qs;
    for (int c = 0; c < 4; ++c) {  // 64-element chunks: low nibbles then high nibbles
      for (int half = 0; half < 2; ++half) {
        const int sub = 2 * c + half;
        uint8_t sc, m;
        GetScaleMinK4(sub, a[i].scales, &sc, &m);
        int32_t dot = 0;
        for (int l = 0; l < 32; ++l) {
          int q = half == 0 ? (a[i].qs[32 * c + l] & 0xF) : (a[i].qs[32 * c + l] >> 4);
          if constexpr (kFive) q += ((a[i].qh[l] >> sub) & 1) << 4;
          dot += q * q8[64 * c + 32 * half + l];
        }
        sumi += sc * dot;
        summ += m * (b[i].bsums[2 * sub] + b[i].bsums[2 * sub + 1]);
      }
    }
    const float d = F16ToF32(a[i].d) * b[i].d;
    const float dmin = F16ToF32(a[i].dmin) * b[i].d;
    s += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
  }
  return s;
}

float DotQ6_K(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t q[kQK_K];
    const uint8_t* ql = a[i].ql;
    const uint8_t* qh = a[i].qh;
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < 32; ++l) {
        q[128 * h + l + 0] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        q[128 * h + l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        q[128 * h + l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        q[128 * h + l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
      ql += 64;
      qh += 32;
    }
    int32_t sumi = 0;
    for (int g = 0; g < 16; ++g) {
      int32_t dot = 0;
      for (int l = 0; l < 16; ++l) dot += q[16 * g + l] * b[i].qs[16 * g + l];
      sumi += a[i].scales[g] * dot;
    }
    s += F16ToF32(a[i].d) * b[i].d * static_cast<float>(sumi);
  }
  return s;
}

}  // namespace

namespace internal {
const VecDotTable kVecDotScalar = {
    {DotF32}, {DotF16}, {DotBF16}, {DotQ8_0}, {DotQ4_0},
    {DotQ45_K<false, BlockQ4_K>}, {DotQ45_K<true, BlockQ5_K>}, {DotQ6_K},
};
}  // namespace internal

}  // namespace swarmkv
