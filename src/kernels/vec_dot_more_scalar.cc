// Scalar twins of issue 18's dot kernels: they define the order (vec_dot_more.h) that the AVX2
// and AVX-512 kernels reproduce bit for bit. Built with -ffp-contract=off: only std::fma fuses.
#include <cmath>
#include <cstring>

#include "kernels/quant_blocks_more.h"
#include "kernels/vec_dot_more.h"

namespace swarmkv {
namespace {

// hsum_float_8's order: (l0+l4 + l2+l6) + (l1+l5 + l3+l7).
float HsumLanes8(const float acc[8]) {
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = acc[l] + acc[l + 4];
  return (t[0] + t[2]) + (t[1] + t[3]);
}

// Element j (0..31) of a 32-element block as the integer the dot multiplies.
int WeightQ(const BlockQ4_1& b, int j) { return j < 16 ? (b.qs[j] & 0xF) : (b.qs[j - 16] >> 4); }
int WeightQ(const BlockQ5_1& b, int j) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof qh);
  const int lo = j < 16 ? (b.qs[j] & 0xF) : (b.qs[j - 16] >> 4);
  return lo | static_cast<int>(((qh >> j) & 1u) << 4);
}
int WeightQ(const BlockIQ4_NL& b, int j) {
  return kIq4NlValues[j < 16 ? (b.qs[j] & 0xF) : (b.qs[j - 16] >> 4)];
}
int WeightQ(const BlockMXFP4& b, int j) {
  return kMxfp4Values[j < 16 ? (b.qs[j] & 0xF) : (b.qs[j - 16] >> 4)];
}

// sum over elements 4l..4l+3 of the block (lane l of the SIMD kernels).
template <typename Block>
int LaneSum(const Block& w, const int8_t* x, int l) {
  int s = 0;
  for (int j = 4 * l; j < 4 * l + 4; ++j) s += WeightQ(w, j) * x[j];
  return s;
}

// Q4_1 / Q5_1 x Q8_1.
template <typename Block>
float DotQ1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  float acc[8] = {};
  float summs = 0.0f;
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    summs = std::fma(F16ToF32(a[i].m), F16ToF32(b[i].s), summs);
    const float d = F16ToF32(a[i].d) * F16ToF32(b[i].d);
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(d, static_cast<float>(LaneSum(a[i], b[i].qs, l)), acc[l]);
  }
  return HsumLanes8(acc) + summs;
}

float ScaleOf(const BlockIQ4_NL& b) { return F16ToF32(b.d); }
float ScaleOf(const BlockMXFP4& b) { return E8M0ToF32Half(b.e); }

// IQ4_NL / MXFP4 x Q8_0: block pairs in two accumulators, a last odd block fused whole.
template <typename Block>
float DotNl(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / 32;
  float acc1[8] = {}, acc2[8] = {};
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const float d1 = F16ToF32(b[i].d) * ScaleOf(a[i]);
    const float d2 = F16ToF32(b[i + 1].d) * ScaleOf(a[i + 1]);
    for (int l = 0; l < 8; ++l) {
      acc1[l] = std::fma(d1, static_cast<float>(LaneSum(a[i], b[i].qs, l)), acc1[l]);
      acc2[l] = std::fma(d2, static_cast<float>(LaneSum(a[i + 1], b[i + 1].qs, l)), acc2[l]);
    }
  }
  float acc[8];
  for (int l = 0; l < 8; ++l) acc[l] = acc1[l] + acc2[l];
  float s = HsumLanes8(acc);
  if (i < nb) {
    const float d = F16ToF32(b[i].d) * ScaleOf(a[i]);
    int sum = 0;
    for (int l = 0; l < 8; ++l) sum += LaneSum(a[i], b[i].qs, l);
    s = std::fma(d, static_cast<float>(sum), s);
  }
  return s;
}

// The sub-block of 16 elements that lane l of 32-element group g lies in.
int Sub16(int g, int l) { return 2 * g + (l >= 4 ? 1 : 0); }

// The 2-bit field of element e (Q2_K, Q3_K): e = 128h + 32j + l is bits 2j of qs[32h + l].
int Low2(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3; }

// Q2_K x Q8_K: q in 0..3, value d * (scale & 15) * q - dmin * (scale >> 4).
float DotQ2_K(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = b[i].d * F16ToF32(a[i].d);
    const float dmin = -b[i].d * F16ToF32(a[i].dmin);
    for (int l = 0; l < 8; ++l) {
      const int mins = (a[i].scales[2 * l] >> 4) * b[i].bsums[2 * l] +
                       (a[i].scales[2 * l + 1] >> 4) * b[i].bsums[2 * l + 1];
      acc[l] = std::fma(dmin, static_cast<float>(mins), acc[l]);
    }
    for (int l = 0; l < 8; ++l) {
      int sum = 0;
      for (int g = 0; g < 8; ++g) {
        int dot = 0;
        for (int e = 32 * g + 4 * l; e < 32 * g + 4 * l + 4; ++e) dot += Low2(a[i].qs, e) * b[i].qs[e];
        sum += (a[i].scales[Sub16(g, l)] & 0xF) * dot;
      }
      acc[l] = std::fma(d, static_cast<float>(sum), acc[l]);
    }
  }
  return HsumLanes8(acc);
}

// Q3_K x Q8_K: q = low 2 bits - (high bit of hmask clear ? 4 : 0), scale - 32.
float DotQ3_K(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ3_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = b[i].d * F16ToF32(a[i].d);
    int8_t scales[16];
    UnpackQ3KScales(a[i].scales, scales);
    for (int l = 0; l < 8; ++l) {
      int sum = 0;
      for (int g = 0; g < 8; ++g) {
        int dot = 0;
        for (int e = 32 * g + 4 * l; e < 32 * g + 4 * l + 4; ++e) {
          const int q = Low2(a[i].qs, e) - (((a[i].hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4);
          dot += q * b[i].qs[e];
        }
        sum += (scales[Sub16(g, l)] - 32) * dot;
      }
      acc[l] = std::fma(d, static_cast<float>(sum), acc[l]);
    }
  }
  return HsumLanes8(acc);
}

// IQ4_XS x Q8_K: 8 sub-blocks of 32 (elements as IQ4_NL), scale ls - 32.
float DotIQ4_XS(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockIQ4_XS*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = F16ToF32(a[i].d) * b[i].d;
    for (int l = 0; l < 8; ++l) {
      int sum = 0;
      for (int ib = 0; ib < 8; ++ib) {
        const uint8_t* qs = a[i].qs + 16 * ib;
        int dot = 0;
        for (int j = 4 * l; j < 4 * l + 4; ++j) {
          dot += kIq4NlValues[j < 16 ? (qs[j] & 0xF) : (qs[j - 16] >> 4)] * b[i].qs[32 * ib + j];
        }
        sum += (Iq4XsScale(a[i], ib) - 32) * dot;
      }
      acc[l] = std::fma(d, static_cast<float>(sum), acc[l]);
    }
  }
  return HsumLanes8(acc);
}

}  // namespace

namespace internal {
const VecDotTableMore kVecDotMoreScalar = {
    {DotQ1<BlockQ4_1>}, {DotQ1<BlockQ5_1>}, {DotQ2_K}, {DotQ3_K},
    {DotNl<BlockIQ4_NL>}, {DotIQ4_XS}, {DotNl<BlockMXFP4>},
};
}  // namespace internal
}  // namespace swarmkv
