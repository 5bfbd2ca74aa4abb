// AVX2 kernels of issue 18's weight types: the scalar twins' bits (vec_dot_more_scalar.cc).
// Per block the 8 exact integer lane sums (lane l: elements 4l..4l+3) come from maddubs/madd,
// then the twin's float sequence with explicit FMAs (built with -ffp-contract=off).
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/quant_blocks_more.h"
#include "kernels/simd_x86.h"
#include "kernels/vec_dot_more.h"

namespace swarmkv {
namespace {

using internal::DotI8x32;
using internal::HsumF32x8;
// f16 -> f32 with F16C (the same values as fp16.h's portable F16ToF32, far cheaper).
static inline float H2F(f16_t h) { return internal::HalfToFloat(h); }
using internal::UnpackNibbles32;

static inline __m256i Load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Unsigned weight bytes (< 128) x signed activation bytes -> 8 int32 lane sums of 4.
static inline __m256i DotU8x32(__m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

// 0x10 in byte j where bit j of the 32-bit word is set (Q5_1's fifth bit).
static inline __m256i Bit4FromBits32(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i mask = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(v, mask), mask);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

static inline __m256i WeightBytes(const BlockQ4_1& b) { return UnpackNibbles32(b.qs); }
static inline __m256i WeightBytes(const BlockQ5_1& b) {
  return _mm256_or_si256(UnpackNibbles32(b.qs), Bit4FromBits32(b.qh));
}

// The 32 code-book values of a 16-byte nibble block, in element order.
static inline __m256i LookupNibbles32(const uint8_t* qs, const int8_t table[16]) {
  const __m128i values = _mm_load_si128(reinterpret_cast<const __m128i*>(table));
  const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_shuffle_epi8(values, _mm_and_si128(bits, m4));
  const __m128i hi = _mm_shuffle_epi8(values, _mm_and_si128(_mm_srli_epi16(bits, 4), m4));
  return _mm256_set_m128i(hi, lo);
}

// Every kernel is a template over the token count T: the weight block is unpacked once and
// each token runs the twin's sequence on its own accumulators, so token t's bits do not depend
// on T (the T = 1 instance is the single-token kernel).
template <typename Block, int T>
void DotQ1(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const Block*>(w);
  __m256 acc[T];
  float summs[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps(), summs[t] = 0.0f;
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    const __m256i wb = WeightBytes(a[i]);
    const float dw = H2F(a[i].d), mw = H2F(a[i].m);
    for (int t = 0; t < T; ++t) {
      const BlockQ8_1& b = static_cast<const BlockQ8_1*>(x[t])[i];
      summs[t] = std::fma(mw, H2F(b.s), summs[t]);  // one vfmadd231ss (-mfma)
      const float d = dw * H2F(b.d);
      const __m256i lanes = DotU8x32(wb, Load32(b.qs));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(lanes), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HsumF32x8(acc[t]) + summs[t];
}

static inline float ScaleOf(const BlockIQ4_NL& b) { return H2F(b.d); }
static inline float ScaleOf(const BlockMXFP4& b) { return E8M0ToF32Half(b.e); }
static inline const int8_t* TableOf(const BlockIQ4_NL&) { return kIq4NlValues; }
static inline const int8_t* TableOf(const BlockMXFP4&) { return kMxfp4Values; }

template <typename Block, int T>
void DotNl(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const Block*>(w);
  const int64_t nb = n / 32;
  __m256 acc1[T], acc2[T];
  for (int t = 0; t < T; ++t) acc1[t] = _mm256_setzero_ps(), acc2[t] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const __m256i w1 = LookupNibbles32(a[i].qs, TableOf(a[i]));
    const __m256i w2 = LookupNibbles32(a[i + 1].qs, TableOf(a[i + 1]));
    const float s1 = ScaleOf(a[i]), s2 = ScaleOf(a[i + 1]);
    for (int t = 0; t < T; ++t) {
      const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x[t]);
      const float d1 = H2F(b[i].d) * s1;
      const float d2 = H2F(b[i + 1].d) * s2;
      acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(d1), _mm256_cvtepi32_ps(DotI8x32(w1, Load32(b[i].qs))), acc1[t]);
      acc2[t] = _mm256_fmadd_ps(_mm256_set1_ps(d2), _mm256_cvtepi32_ps(DotI8x32(w2, Load32(b[i + 1].qs))), acc2[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x[t]);
    float s = HsumF32x8(_mm256_add_ps(acc1[t], acc2[t]));
    if (i < nb) {
      const float d = H2F(b[i].d) * ScaleOf(a[i]);
      const __m256i p = DotI8x32(LookupNibbles32(a[i].qs, TableOf(a[i])), Load32(b[i].qs));
      __m128i h = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
      h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
      h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
      s = std::fma(d, static_cast<float>(_mm_cvtsi128_si32(h)), s);
    }
    out[t] = s;
  }
}

// The scale vector of 32-element group g: 16-bit lanes 0-7 (elements 0-15) s0, 8-15 s1.
static inline __m256i GroupScales(int s0, int s1) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(s1)), _mm_set1_epi16(static_cast<int16_t>(s0)));
}

template <int T>
void DotQ2_K(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0x0F)));
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) {
      const BlockQ8_K& b = static_cast<const BlockQ8_K*>(x[t])[i];
      const float dmin = -b.d * H2F(a[i].dmin);
      const __m256i prod = _mm256_madd_epi16(mins, Load32(b.bsums));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc[t]);
      sumi[t] = _mm256_setzero_si256();
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i bits = Load32(a[i].qs + 32 * h);
      for (int j = 0; j < 4; ++j) {
        const int g = 4 * h + j;
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), m3);
        const __m256i s = GroupScales(a[i].scales[2 * g] & 0xF, a[i].scales[2 * g + 1] & 0xF);
        for (int t = 0; t < T; ++t) {
          const __m256i p16 = _mm256_maddubs_epi16(q, Load32(static_cast<const BlockQ8_K*>(x[t])[i].qs + 32 * g));
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(s, p16));
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      const float d = static_cast<const BlockQ8_K*>(x[t])[i].d * H2F(a[i].d);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HsumF32x8(acc[t]);
}

template <int T>
void DotQ3_K(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const BlockQ3_K*>(w);
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t scales[16];
    UnpackQ3KScales(a[i].scales, scales);
    const __m256i hmask = Load32(a[i].hmask);
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i bits = Load32(a[i].qs + 32 * h);
      for (int j = 0; j < 4; ++j) {
        const int g = 4 * h + j;
        const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << g));
        const __m256i high = _mm256_cmpeq_epi8(_mm256_and_si256(hmask, bit), bit);
        // q = low 2 bits + 4 * high bit - 4, in -4..3
        const __m256i q = _mm256_sub_epi8(
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), m3), _mm256_and_si256(high, _mm256_set1_epi8(4))),
            _mm256_set1_epi8(4));
        const __m256i aq = _mm256_sign_epi8(q, q);
        const __m256i s = GroupScales(scales[2 * g] - 32, scales[2 * g + 1] - 32);
        for (int t = 0; t < T; ++t) {
          const __m256i x8 = Load32(static_cast<const BlockQ8_K*>(x[t])[i].qs + 32 * g);
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(s, _mm256_maddubs_epi16(aq, _mm256_sign_epi8(x8, q))));
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      const float d = static_cast<const BlockQ8_K*>(x[t])[i].d * H2F(a[i].d);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HsumF32x8(acc[t]);
}

template <int T>
void DotIQ4_XS(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const BlockIQ4_XS*>(w);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    __m256i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm256_setzero_si256();
    for (int ib = 0; ib < 8; ++ib) {
      const __m256i q = LookupNibbles32(a[i].qs + 16 * ib, kIq4NlValues);
      const __m256i aq = _mm256_sign_epi8(q, q);
      const __m256i ls = _mm256_set1_epi16(static_cast<int16_t>(Iq4XsScale(a[i], ib) - 32));
      for (int t = 0; t < T; ++t) {
        const __m256i x8 = Load32(static_cast<const BlockQ8_K*>(x[t])[i].qs + 32 * ib);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(ls, _mm256_maddubs_epi16(aq, _mm256_sign_epi8(x8, q))));
      }
    }
    for (int t = 0; t < T; ++t) {
      const float d = H2F(a[i].d) * static_cast<const BlockQ8_K*>(x[t])[i].d;
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HsumF32x8(acc[t]);
}

// The single-token kernel (T = 1) and the 4-token kernel the matmul uses for prefill
// (constexpr + constinit: constant-initialized, no code of this AVX2 unit runs at start-up).
template <void (*K1)(int64_t, const void*, const void* const*, float*),
          void (*K4)(int64_t, const void*, const void* const*, float*)>
constexpr VecDotKernel Kernel() {
  VecDotKernel k;
  k.one = [](int64_t n, const void* w, const void* x) {
    float r;
    K1(n, w, &x, &r);
    return r;
  };
  k.multi = K4;
  k.multi_tokens = 4;
  return k;
}

}  // namespace

namespace internal {
constinit const VecDotTableMore kVecDotMoreAvx2 = {
    Kernel<DotQ1<BlockQ4_1, 1>, DotQ1<BlockQ4_1, 4>>(), Kernel<DotQ1<BlockQ5_1, 1>, DotQ1<BlockQ5_1, 4>>(),
    Kernel<DotQ2_K<1>, DotQ2_K<4>>(), Kernel<DotQ3_K<1>, DotQ3_K<4>>(),
    Kernel<DotNl<BlockIQ4_NL, 1>, DotNl<BlockIQ4_NL, 4>>(), Kernel<DotIQ4_XS<1>, DotIQ4_XS<4>>(),
    Kernel<DotNl<BlockMXFP4, 1>, DotNl<BlockMXFP4, 4>>(),
};
}  // namespace internal
}  // namespace swarmkv
