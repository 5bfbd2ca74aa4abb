// AVX-512 (F/BW/VL/VNNI) kernels of issue 18's weight types: the scalar twins' bits
// (vec_dot_more_scalar.cc), read line by line against them:
// - Integer lane sums (lane l: elements 4l..4l+3 of a 32-element group) come from vpdpbusd,
//   which multiplies unsigned by signed bytes and adds four products into 32 bits — exact.
//   Unsigned weights (Q4_1, Q5_1, Q2_K) go in directly. Code-book weights w are fed as w + 128
//   and 128 * (sum of the 4 activations) — a second vpdpbusd with ones — is subtracted: the
//   same integers, so the same floats. Q3_K (-4..3) uses 512-bit maddubs/madd instead (|q| and
//   x with q's sign, then the 16-bit scales), cheaper than two vpdpbusd and a vpmulld.
// - The K-quant and IQ4_XS kernels put two 32-element groups in one zmm (lanes 0-7 group g,
//   8-15 group g+1), scale each lane by its sub-block's scale (vpmulld), and fold the halves
//   at the end of the block (integer adds: exact in any order). Then the twin's float part.
// - IQ4_NL / MXFP4: the twin's acc1 (even blocks) and acc2 (odd blocks) are the low and high
//   halves of one zmm: one fma per block pair with d = (d_even x 8 | d_odd x 8).
// - Q4_1 / Q5_1 have one 8-lane accumulator per block in block order: ymm, as the twin.
// - IQ4_NL / MXFP4 also have 4-row x 4-token prefill tiles (TileNl): each output's register is
//   the same acc1|acc2 with the same per-block-pair fma; lookups and activation work are shared.
// Built with -ffp-contract=off; every fused multiply-add is an explicit intrinsic.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/quant_blocks_more.h"
#include "kernels/simd_x86.h"
#include "kernels/vec_dot_more.h"

namespace swarmkv {
namespace {

using internal::HsumF32x8;
// f16 -> f32 with F16C (the same values as fp16.h's portable F16ToF32, far cheaper).
static inline float H2F(f16_t h) { return internal::HalfToFloat(h); }
using internal::UnpackNibbles32;

static inline __m256i Load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
static inline __m512i Cat(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
static inline __m256i Fold(__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); }

// sum_{4 elements} (w + bias) * x - bias * sum_{4 elements} x  =  sum w * x, per 32-bit lane.
static inline __m512i DotBiased(__m512i w_plus_bias, __m512i x, int bias) {
  const __m512i wx = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w_plus_bias, x);
  const __m512i sx = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), x);
  return _mm512_sub_epi32(wx, _mm512_mullo_epi32(sx, _mm512_set1_epi32(bias)));
}
static inline __m256i DotBiased(__m256i w_plus_bias, __m256i x, int bias) {
  const __m256i wx = _mm256_dpbusd_epi32(_mm256_setzero_si256(), w_plus_bias, x);
  const __m256i sx = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), x);
  return _mm256_sub_epi32(wx, _mm256_mullo_epi32(sx, _mm256_set1_epi32(bias)));
}

// ---- Q4_1 / Q5_1 x Q8_1 (twin: DotQ1) ----
static inline __m256i Bit4FromBits32(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  const __m256i set = _mm256_movm_epi8(static_cast<__mmask32>(bits));  // 0xFF where bit j is set
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}
static inline __m256i WeightBytes(const BlockQ4_1& b) { return UnpackNibbles32(b.qs); }
static inline __m256i WeightBytes(const BlockQ5_1& b) {
  return _mm256_or_si256(UnpackNibbles32(b.qs), Bit4FromBits32(b.qh));
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
      const __m256i lanes = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wb, Load32(b.qs));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(lanes), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HsumF32x8(acc[t]) + summs[t];
}

// ---- IQ4_NL / MXFP4 x Q8_0 (twin: DotNl) ----
static inline float ScaleOf(const BlockIQ4_NL& b) { return H2F(b.d); }
static inline float ScaleOf(const BlockMXFP4& b) { return E8M0ToF32Half(b.e); }
static inline const int8_t* TableOf(const BlockIQ4_NL&) { return kIq4NlValues; }
static inline const int8_t* TableOf(const BlockMXFP4&) { return kMxfp4Values; }

// The code-book values + 128 of a 16-byte nibble block, in element order.
static inline __m256i LookupBiased32(const uint8_t* qs, const int8_t table[16]) {
  const __m128i values = _mm_add_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(table)), _mm_set1_epi8(-128));
  const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_shuffle_epi8(values, _mm_and_si128(bits, m4));
  const __m128i hi = _mm_shuffle_epi8(values, _mm_and_si128(_mm_srli_epi16(bits, 4), m4));
  return _mm256_set_m128i(hi, lo);
}

// The twin's last odd block: its whole integer sum fused into s, fma(d_x * d_w, sum, s).
template <typename Block>
static inline float OddBlockNl(const Block& a, const BlockQ8_0& b, float s) {
  const float d = H2F(b.d) * ScaleOf(a);
  const __m256i p = DotBiased(LookupBiased32(a.qs, TableOf(a)), Load32(b.qs), 128);
  __m128i h = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
  return std::fma(d, static_cast<float>(_mm_cvtsi128_si32(h)), s);
}

// The twin's HsumLanes8(acc1 + acc2) of one output's acc1|acc2 register.
static inline float HsumAcc12(__m512 acc12) {
  return HsumF32x8(_mm256_add_ps(_mm512_castps512_ps256(acc12),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc12), 1))));
}

template <typename Block, int T>
void DotNl(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const Block*>(w);
  const int64_t nb = n / 32;
  __m512 acc12[T];  // lanes 0-7: the twin's acc1, 8-15: acc2
  for (int t = 0; t < T; ++t) acc12[t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const __m512i wv = Cat(LookupBiased32(a[i].qs, TableOf(a[i])), LookupBiased32(a[i + 1].qs, TableOf(a[i + 1])));
    const float s1 = ScaleOf(a[i]), s2 = ScaleOf(a[i + 1]);
    for (int t = 0; t < T; ++t) {
      const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x[t]);
      const float d1 = H2F(b[i].d) * s1;
      const float d2 = H2F(b[i + 1].d) * s2;
      const __m512i p12 = DotBiased(wv, Cat(Load32(b[i].qs), Load32(b[i + 1].qs)), 128);
      const __m512 d12 = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(d1), _mm512_set1_ps(d2));
      acc12[t] = _mm512_fmadd_ps(d12, _mm512_cvtepi32_ps(p12), acc12[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    const BlockQ8_0* b = static_cast<const BlockQ8_0*>(x[t]);
    const float s = HsumAcc12(acc12[t]);  // acc1 + acc2, then hsum_float_8
    out[t] = i < nb ? OddBlockNl(a[i], b[i], s) : s;
  }
}

// Prefill tiles: R weight rows x TT tokens, one acc1|acc2 register per output, each output the
// twin's (= DotNl's) sequence. Per block pair the code-book lookup of a row (both blocks in one
// vpshufb) is shared by the tile's tokens, and a token's activation bytes, its -128 * sum(x)
// correction and its scales by the tile's rows: the lane sums are vpdpbusd(correction, w + 128,
// x), the same integers as DotBiased.
template <typename Block>
static inline __m512i LookupPairBiased(const Block& b0, const Block& b1) {
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(TableOf(b0)));
  const __m512i values = _mm512_broadcast_i32x4(_mm_add_epi8(table, _mm_set1_epi8(-128)));
  const __m256i bits = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0.qs))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b1.qs)), 1);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m512i lo_hi = Cat(_mm256_and_si256(bits, m4), _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4));
  // quarters [lo0, lo1, hi0, hi1] -> [lo0, hi0, lo1, hi1]: block i's elements 0-31, then block i+1's
  return _mm512_shuffle_epi8(values, _mm512_shuffle_i64x2(lo_hi, lo_hi, 0xD8));
}
static inline __m512 PairPs(float lo, float hi) {
  return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(lo), _mm512_set1_ps(hi));
}

template <typename Block, int R, int TT>
void TileNl(int64_t n, const uint8_t* w, int64_t w_stride, const void* const* x, float* y, int64_t y_stride) {
  const int64_t nb = n / 32;
  const BlockQ8_0* xb[TT];
  for (int t = 0; t < TT; ++t) xb[t] = static_cast<const BlockQ8_0*>(x[t]);
  __m512 acc[R][TT];
  #pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 4
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    __m512i xq[TT], xc[TT];
    __m512 dx[TT];
    #pragma GCC unroll 4
    for (int t = 0; t < TT; ++t) {
      xq[t] = Cat(Load32(xb[t][i].qs), Load32(xb[t][i + 1].qs));
      xc[t] = _mm512_sub_epi32(_mm512_setzero_si512(),
                               _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(0x80)), xq[t]));
      dx[t] = PairPs(H2F(xb[t][i].d), H2F(xb[t][i + 1].d));
    }
    #pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const Block* a = reinterpret_cast<const Block*>(w + r * w_stride);
      const __m512i wv = LookupPairBiased(a[i], a[i + 1]);
      const __m512 dw = PairPs(ScaleOf(a[i]), ScaleOf(a[i + 1]));
      #pragma GCC unroll 4
      for (int t = 0; t < TT; ++t) {
        // d12 lane-wise = the twin's d_x * d_w per block (one multiply, same bits)
        const __m512i lanes = _mm512_dpbusd_epi32(xc[t], wv, xq[t]);
        acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dx[t], dw), _mm512_cvtepi32_ps(lanes), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    const Block* a = reinterpret_cast<const Block*>(w + r * w_stride);
    for (int t = 0; t < TT; ++t) {
      const float s = HsumAcc12(acc[r][t]);
      y[t * y_stride + r] = i < nb ? OddBlockNl(a[i], xb[t][i], s) : s;
    }
  }
}

template <typename Block>
void TileNlDispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x, int tokens,
                    float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, const void* const*, float*, int64_t);
#define SKV_TN(R) {TileNl<Block, R, 1>, TileNl<Block, R, 2>, TileNl<Block, R, 3>, TileNl<Block, R, 4>}
  static constexpr Fn kTable[4][4] = {SKV_TN(1), SKV_TN(2), SKV_TN(3), SKV_TN(4)};
#undef SKV_TN
  kTable[rows - 1][tokens - 1](n, w, w_stride, x, y, y_stride);
}

// Decode (one token): rows one after another, each DotNl<Block, 1> — one sequential stream per
// row, as before the tiles (a 4-row tile would interleave four streams).
template <typename Block>
void RowsNl(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x, int tokens, float* y,
            int64_t y_stride) {
  (void)tokens;  // stream_tokens == 1
  (void)y_stride;
  for (int r = 0; r < rows; ++r) DotNl<Block, 1>(n, w + r * w_stride, x, y + r);
}

// Scales of two 32-element groups g, g+1 as 32-bit lanes: lanes 0-3 s[0], 4-7 s[1] (group g),
// 8-11 s[2], 12-15 s[3] (group g+1) — the twin's Sub16(g, l) for l < 4 and l >= 4.
static inline __m512i PairScales(int s0, int s1, int s2, int s3) {
  return _mm512_setr_epi32(s0, s0, s0, s0, s1, s1, s1, s1, s2, s2, s2, s2, s3, s3, s3, s3);
}

// ---- Q2_K x Q8_K (twin: DotQ2_K) ----
template <int T>
void DotQ2_K(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(0x0F)));
    __m512i sumi[T];
    for (int t = 0; t < T; ++t) {
      const BlockQ8_K& b = static_cast<const BlockQ8_K*>(x[t])[i];
      const float dmin = -b.d * H2F(a[i].dmin);
      // the twin's min lanes: mins[2l] * bsums[2l] + mins[2l+1] * bsums[2l+1]
      const __m256i prod = _mm256_madd_epi16(mins, Load32(b.bsums));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc[t]);
      sumi[t] = _mm512_setzero_si512();
    }
    for (int g = 0; g < 8; g += 2) {  // groups g, g+1 share the 32 bytes qs[32h..] (h = g / 4)
      const __m256i bits = Load32(a[i].qs + 32 * (g / 4));
      const int j = g % 4;
      const __m512i q = Cat(_mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), m3),
                            _mm256_and_si256(_mm256_srli_epi16(bits, 2 * j + 2), m3));
      const uint8_t* s = a[i].scales + 2 * g;
      const __m512i scale = PairScales(s[0] & 0xF, s[1] & 0xF, s[2] & 0xF, s[3] & 0xF);
      for (int t = 0; t < T; ++t) {
        const BlockQ8_K& b = static_cast<const BlockQ8_K*>(x[t])[i];
        const __m512i lanes = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, _mm512_loadu_si512(b.qs + 32 * g));
        sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(lanes, scale));
      }
    }
    for (int t = 0; t < T; ++t) {
      const float d = static_cast<const BlockQ8_K*>(x[t])[i].d * H2F(a[i].d);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(Fold(sumi[t])), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HsumF32x8(acc[t]);
}

// ---- Q3_K x Q8_K (twin: DotQ3_K) ----
// 16-bit scales of two 32-element groups: lanes 0-7 s0, 8-15 s1 (group g), 16-23 s2, 24-31 s3.
static inline __m512i PairScales16(int s0, int s1, int s2, int s3) {
  __m512i v = _mm512_castsi128_si512(_mm_set1_epi16(static_cast<int16_t>(s0)));
  v = _mm512_inserti32x4(v, _mm_set1_epi16(static_cast<int16_t>(s1)), 1);
  v = _mm512_inserti32x4(v, _mm_set1_epi16(static_cast<int16_t>(s2)), 2);
  return _mm512_inserti32x4(v, _mm_set1_epi16(static_cast<int16_t>(s3)), 3);
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
    __m512i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm512_setzero_si512();
    for (int g = 0; g < 8; g += 2) {
      const __m256i bits = Load32(a[i].qs + 32 * (g / 4));
      __m256i q[2];  // low 2 bits - (high bit clear ? 4 : 0), in -4..3
      for (int k = 0; k < 2; ++k) {
        const __m256i low = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * ((g + k) % 4)), m3);
        const __mmask32 clear = _mm256_testn_epi8_mask(hmask, _mm256_set1_epi8(static_cast<char>(1 << (g + k))));
        q[k] = _mm256_mask_sub_epi8(low, clear, low, _mm256_set1_epi8(4));
      }
      // |q| * (x with q's sign): exact 16-bit pair sums (maddubs), then scale pairs into lanes of 4.
      const __m512i qv = Cat(q[0], q[1]);
      const __mmask64 neg = _mm512_movepi8_mask(qv);
      const __m512i aq = _mm512_abs_epi8(qv);
      const int8_t* s = scales + 2 * g;
      const __m512i scale = PairScales16(s[0] - 32, s[1] - 32, s[2] - 32, s[3] - 32);
      for (int t = 0; t < T; ++t) {
        const __m512i xv = _mm512_loadu_si512(static_cast<const BlockQ8_K*>(x[t])[i].qs + 32 * g);
        const __m512i xs = _mm512_mask_sub_epi8(xv, neg, _mm512_setzero_si512(), xv);
        sumi[t] = _mm512_add_epi32(sumi[t], _mm512_madd_epi16(scale, _mm512_maddubs_epi16(aq, xs)));
      }
    }
    for (int t = 0; t < T; ++t) {
      const float d = static_cast<const BlockQ8_K*>(x[t])[i].d * H2F(a[i].d);
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(Fold(sumi[t])), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HsumF32x8(acc[t]);
}

// ---- IQ4_XS x Q8_K (twin: DotIQ4_XS) ----
template <int T>
void DotIQ4_XS(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const BlockIQ4_XS*>(w);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    __m512i sumi[T];
    for (int t = 0; t < T; ++t) sumi[t] = _mm512_setzero_si512();
    for (int ib = 0; ib < 8; ib += 2) {
      const __m512i wv = Cat(LookupBiased32(a[i].qs + 16 * ib, kIq4NlValues),
                             LookupBiased32(a[i].qs + 16 * ib + 16, kIq4NlValues));
      const int l0 = Iq4XsScale(a[i], ib) - 32, l1 = Iq4XsScale(a[i], ib + 1) - 32;
      const __m512i scale = PairScales(l0, l0, l1, l1);
      for (int t = 0; t < T; ++t) {
        const __m512i lanes = DotBiased(wv, _mm512_loadu_si512(static_cast<const BlockQ8_K*>(x[t])[i].qs + 32 * ib), 128);
        sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(lanes, scale));
      }
    }
    for (int t = 0; t < T; ++t) {
      const float d = H2F(a[i].d) * static_cast<const BlockQ8_K*>(x[t])[i].d;
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(Fold(sumi[t])), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) out[t] = HsumF32x8(acc[t]);
}

// The single-token kernel (T = 1) and the 4-token kernel the matmul uses for prefill.
// constexpr + constinit below: the table is constant-initialized, so no code of this
// AVX-512 translation unit runs at start-up on a CPU without AVX-512.
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

// IQ4_NL / MXFP4: the 4-row x 4-token tiles for prefill, rows streamed one by one for decode.
template <typename Block>
constexpr VecDotKernel KernelNl() {
  VecDotKernel k = Kernel<DotNl<Block, 1>, DotNl<Block, 4>>();
  k.tile = TileNlDispatch<Block>;
  k.tile_rows = 4;
  k.tile_tokens = 4;
  k.stream = RowsNl<Block>;
  k.stream_tokens = 1;
  return k;
}

}  // namespace

namespace internal {
constinit const VecDotTableMore kVecDotMoreAvx512 = {
    Kernel<DotQ1<BlockQ4_1, 1>, DotQ1<BlockQ4_1, 4>>(), Kernel<DotQ1<BlockQ5_1, 1>, DotQ1<BlockQ5_1, 4>>(),
    Kernel<DotQ2_K<1>, DotQ2_K<4>>(), Kernel<DotQ3_K<1>, DotQ3_K<4>>(),
    KernelNl<BlockIQ4_NL>(), Kernel<DotIQ4_XS<1>, DotIQ4_XS<4>>(),
    KernelNl<BlockMXFP4>(),
};
}  // namespace internal
}  // namespace swarmkv
