// AVX-512 (F/BW/VL + VNNI) dot products, compiled with those -m flags only and called only
// when CPUID reports them. They give the scalar twins' bits (vec_dot_scalar.cc), which are
// also the AVX2 kernels' bits: the same canonical order, held in wider registers.
//
// How each kernel maps onto its scalar twin, line by line:
//  - Float rows (f32/f16/bf16, DotFloatGgml): the twin's four 8-lane accumulators acc[0..3]
//    over 32-element steps live in two zmm registers: lo = acc[0] | acc[1] (elements
//    i .. i+15), hi = acc[2] | acc[3] (elements i+16 .. i+31). Each lane fuses the same
//    elements in the same order. The twin's reduction v = (acc0 + acc2) + (acc1 + acc3) is
//    s = lo + hi (lanes 0-7: acc0 + acc2, lanes 8-15: acc1 + acc3), then v = s.lo256 + s.hi256;
//    then the same 4-lane sum and the same leftovers as the twin (FinishFloat below).
//  - Q8_0/Q4_0/Q5_0 x Q8_0 (DotQ32): per block the twin forms 8 exact integer lane sums
//    (4 consecutive products each) and fuses them into 8 float accumulators with
//    d = d_w * d_x. Here one zmm holds two outputs' 8 lanes (two rows, or two tokens); the lane
//    sums come from vpdpbusd (exact: any integer method gives the same integers), the float
//    part is the twin's: cvt, d, one fma per lane per block, blocks in order; the 8 lanes of
//    each output reduced as HsumLanes8.
//  - Q4_K/Q5_K x Q8_K tiles (several tokens): the twin's (= the AVX2 kernel's) integer lanes and
//    per-block fma, two tokens per zmm, the weight unpacked once for all tokens, the scales
//    applied by vpdpwssd and the min sums by vpmaddwd (RowQ45K); one token runs DotQ45K8,
//    the AVX2 kernel's 8 lanes with the same VNNI integer parts.
//    Q6_K likewise (RowQ6K; one token DotQ6K8, the AVX2 kernel's lanes with VNNI integers).
#include "kernels/quants.h"
#include "kernels/simd_x86.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

using internal::HalfToFloat;
using internal::HsumF32x8;

// ---- float rows -------------------------------------------------------------------------

// 16 elements widened to f32.
inline __m512 LoadF32x16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 LoadF16x16(const f16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 LoadBF16x16(const bf16_t* p) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
inline float IdF32(float f) { return f; }
inline float F16F(f16_t h) { return HalfToFloat(h); }
inline float BF16F(bf16_t h) { return BF16ToF32(h); }

enum class FloatTail { kF32, kDouble };

// The activation element a float tile reads: the vec-dot type T, or (kXF32) its values
// widened to f32 once per matmul (Activations::row_f32). Same values, same products.
template <typename T, bool kXF32> struct FloatX { using type = T; };
template <typename T> struct FloatX<T, true> { using type = float; };

template <typename T, __m512 (*Load)(const T*), bool kXF32>
inline __m512 LoadX(const typename FloatX<T, kXF32>::type* p) {
  if constexpr (kXF32) {
    return _mm512_loadu_ps(p);
  } else {
    return Load(p);
  }
}

template <typename T, float (*ToF)(T), bool kXF32>
inline float XValue(typename FloatX<T, kXF32>::type v) {
  if constexpr (kXF32) {
    return v;
  } else {
    return ToF(v);
  }
}

// Twin: h[k] = v[k] + v[k + 4]; (h0 + h1) + (h2 + h3) (hadd, f32/f16) or (h0 + h2) + (h1 + h3).
inline float Sum4Lanes(__m256 v, bool hadd) {
  if (!hadd) return HsumF32x8(v);
  const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t1 = _mm_hadd_ps(t0, t0);
  return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// The twin's reduction and leftovers. lo = acc0 | acc1, hi = acc2 | acc3.
template <typename T, float (*ToF)(T), FloatTail kTail, bool kHadd, bool kXF32>
inline float FinishFloat(__m512 lo, __m512 hi, int64_t n, const T* w,
                         const typename FloatX<T, kXF32>::type* x) {
  const __m512 s = _mm512_add_ps(lo, hi);  // lanes 0-7: acc0 + acc2; 8-15: acc1 + acc3
  const __m256 v = _mm256_add_ps(_mm512_castps512_ps256(s), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
  const float h = Sum4Lanes(v, kHadd);
  const int64_t n32 = n & ~int64_t{31};
  if (n32 == n) return h;
  if constexpr (kTail == FloatTail::kDouble) {
    double acc = static_cast<double>(h);
    for (int64_t j = n32; j < n; ++j) acc += static_cast<double>(ToF(w[j]) * XValue<T, ToF, kXF32>(x[j]));
    return static_cast<float>(acc);
  } else {
    // Twin: the first (rem & ~3) products rounded then added, the last rem % 4 fused.
    float acc = h;
    const int64_t unfused_end = n32 + ((n - n32) & ~int64_t{3});
    for (int64_t j = n32; j < unfused_end; ++j) {
      const __m128 p = _mm_mul_ss(_mm_set_ss(ToF(w[j])), _mm_set_ss(XValue<T, ToF, kXF32>(x[j])));
      acc = _mm_cvtss_f32(_mm_add_ss(_mm_set_ss(acc), p));
    }
    for (int64_t j = unfused_end; j < n; ++j) {
      acc = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(ToF(w[j])), _mm_set_ss(XValue<T, ToF, kXF32>(x[j])), _mm_set_ss(acc)));
    }
    return acc;
  }
}

// R rows x TT tokens, one pass over the row: per output the twin's four accumulators in two
// zmm registers (R * TT * 2 <= 24 of the 32). Every (R, TT) gives each output the same fused
// sequence, so every shape has the 1 x 1 bits (batch invariance).
template <typename T, __m512 (*Load)(const T*), float (*ToF)(T), FloatTail kTail, bool kHadd, bool kXF32, int R,
          int TT>
void TileFloat(int64_t n, const uint8_t* w, int64_t w_stride, const void* const* x, float* y,
               int64_t y_stride) {
  using X = typename FloatX<T, kXF32>::type;
  const X* xs[TT];
  for (int t = 0; t < TT; ++t) xs[t] = static_cast<const X*>(x[t]);
  const int64_t n32 = n & ~int64_t{31};
  __m512 lo[R][TT], hi[R][TT];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < TT; ++t) lo[r][t] = hi[r][t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < n32; i += 32) {
    __m512 xl[TT], xh[TT];
#pragma GCC unroll 4
    for (int t = 0; t < TT; ++t) {
      xl[t] = LoadX<T, Load, kXF32>(xs[t] + i);
      xh[t] = LoadX<T, Load, kXF32>(xs[t] + i + 16);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const T* wr = reinterpret_cast<const T*>(w + r * w_stride);
      const __m512 wl = Load(wr + i);
      const __m512 wh = Load(wr + i + 16);
#pragma GCC unroll 4
      for (int t = 0; t < TT; ++t) {
        lo[r][t] = _mm512_fmadd_ps(wl, xl[t], lo[r][t]);
        hi[r][t] = _mm512_fmadd_ps(wh, xh[t], hi[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    const T* wr = reinterpret_cast<const T*>(w + r * w_stride);
    for (int t = 0; t < TT; ++t)
      y[t * y_stride + r] = FinishFloat<T, ToF, kTail, kHadd, kXF32>(lo[r][t], hi[r][t], n, wr, xs[t]);
  }
}

template <typename T, __m512 (*Load)(const T*), float (*ToF)(T), FloatTail kTail, bool kHadd, bool kXF32>
void TileFloatDispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows,
                       const void* const* x, int tokens, float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, const void* const*, float*, int64_t);
#define SKV_TF(R, TT) TileFloat<T, Load, ToF, kTail, kHadd, kXF32, R, TT>
  static constexpr Fn kTable[4][4] = {
      {SKV_TF(1, 1), SKV_TF(1, 2), SKV_TF(1, 3), SKV_TF(1, 4)},
      {SKV_TF(2, 1), SKV_TF(2, 2), SKV_TF(2, 3), SKV_TF(2, 4)},
      {SKV_TF(3, 1), SKV_TF(3, 2), SKV_TF(3, 3), SKV_TF(3, 4)},
      {SKV_TF(4, 1), SKV_TF(4, 2), SKV_TF(4, 3), SKV_TF(4, 4)},
  };
#undef SKV_TF
  kTable[rows - 1][tokens - 1](n, w, w_stride, x, y, y_stride);
}

template <typename T, __m512 (*Load)(const T*), float (*ToF)(T), FloatTail kTail, bool kHadd>
float OneFloat(int64_t n, const void* w, const void* x) {
  float o;
  TileFloat<T, Load, ToF, kTail, kHadd, false, 1, 1>(n, static_cast<const uint8_t*>(w), 0, &x, &o, 0);
  return o;
}

// Decode streams every weight row once from DRAM: a software prefetch this far ahead, once per
// cache line (as the AVX2 stream kernels).
constexpr int64_t kStreamPrefetchBytes = 2048;

inline void PrefetchStreamTo(const char*& mark, const void* end) {
  while (static_cast<const char*>(end) > mark) {
    _mm_prefetch(mark + kStreamPrefetchBytes, _MM_HINT_T0);
    mark += 64;
  }
}

// Decode over float weights: rows one after another, each one sequential stream. Each output
// is TileFloat<.., 1, 1>'s sequence: same bits.
template <typename T, __m512 (*Load)(const T*), float (*ToF)(T), FloatTail kTail, bool kHadd>
void RowsFloat(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x,
               int tokens, float* y, int64_t y_stride) {
  (void)tokens;  // stream_tokens == 1
  (void)y_stride;
  const T* xr = static_cast<const T*>(x[0]);
  const int64_t n32 = n & ~int64_t{31};
  for (int r = 0; r < rows; ++r) {
    const T* wr = reinterpret_cast<const T*>(w + r * w_stride);
    const char* line = reinterpret_cast<const char*>(wr);
    __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
    for (int64_t i = 0; i < n32; i += 32) {
      PrefetchStreamTo(line, wr + i + 32);
      lo = _mm512_fmadd_ps(Load(wr + i), Load(xr + i), lo);
      hi = _mm512_fmadd_ps(Load(wr + i + 16), Load(xr + i + 16), hi);
    }
    y[r] = FinishFloat<T, ToF, kTail, kHadd, false>(lo, hi, n, wr, xr);
  }
}

// ---- Q8_0 / Q4_0 / Q5_0 weights x Q8_0 activations ----------------------------------------

// A weight block's 32 int8 values in element order (the twin's WeightQ(b, j) for j < 32).
inline __m256i WeightBlock(const BlockQ8_0& b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
}
inline __m256i WeightBlock(const BlockQ4_0& b) {
  return _mm256_sub_epi8(internal::UnpackNibbles32(b.qs), _mm256_set1_epi8(8));
}
inline __m256i WeightBlock(const BlockQ5_0& b) {
  // (nibble | bit j << 4) - 16 as int8: the nibble where bit j is set, else nibble | 0xF0.
  uint32_t qh;
  __builtin_memcpy(&qh, b.qh, sizeof(qh));
  const __m256i nib = internal::UnpackNibbles32(b.qs);
  return _mm256_mask_blend_epi8(static_cast<__mmask32>(~qh), nib, _mm256_or_si256(nib, _mm256_set1_epi8(static_cast<char>(0xF0))));
}

// Two outputs' 8 integer lane sums: lanes 0-7 dot(w_lo, x_lo), lanes 8-15 dot(w_hi, x_hi), lane
// l summing elements 4l .. 4l+3 — the twin's sumi. vpdpbusd multiplies unsigned by signed
// bytes, so the weight is biased: w + 128 (w xor 0x80) is unsigned, vpdpbusd sums
// (w + 128) * x, and starting from -128 * sum(x) leaves sum(w * x), exactly (any int8 w, x).
// The correction depends on the activations only: a tile computes it once per token pair and
// block (XCorrection) and shares it across its rows, which then pay one xor each.
inline __m512i XCorrection(__m512i x) {
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, x));
}
inline __m512i BiasWeight(__m512i w) { return _mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(0x80))); }
inline __m512i LaneSums(__m512i w_biased, __m512i x, __m512i x_correction) {
  return _mm512_dpbusd_epi32(x_correction, w_biased, x);
}

inline __m512i Pair(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
inline __m512 PairPs(float lo, float hi) {  // (AVX-512 F only: no DQ insert/extract)
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(lo)), _mm256_castps_pd(_mm256_set1_ps(hi)), 1));
}
inline __m256 High256(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }
inline __m256i XBlock(const BlockQ8_0& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }

// Twin: acc[l] = fma(d, float(sumi_l), acc[l]) with d = d_w * d_x, per block in order.
inline __m512 FuseBlock(__m512 d, __m512i sums, __m512 acc) {
  return _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sums), acc);
}
// The twin's HsumLanes8 of each half.
inline void StorePair(__m512 acc, float* lo, float* hi) {
  *lo = HsumF32x8(_mm512_castps512_ps256(acc));
  *hi = HsumF32x8(High256(acc));
}

// Rows of a full Q8_0/Q4_0/Q5_0 tile: 8 rows x 2 token pairs keep 16 accumulators, and the
// per-pair activation work (load, correction, scale) is shared by 8 rows instead of 4.
constexpr int kQ32TileRows = 8;

// R weight rows x TT tokens. Tokens go in pairs (t, t+1) into one zmm per row (an odd last
// token is paired with itself); each half runs the twin's sequence for its output.
template <typename Block, int R, int TT>
void TileQ32(int64_t n, const uint8_t* w, int64_t w_stride, const void* const* x, float* y,
             int64_t y_stride) {
  constexpr int P = (TT + 1) / 2;  // token pairs
  const int64_t nb = n / kQK8_0;
  const BlockQ8_0* xb[2 * P];
  for (int t = 0; t < 2 * P; ++t) xb[t] = static_cast<const BlockQ8_0*>(x[t < TT ? t : TT - 1]);
  __m512 acc[R][P];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    __m512i xq[P], xc[P];
    __m512 dx[P];
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      xq[p] = Pair(XBlock(xb[2 * p][i]), XBlock(xb[2 * p + 1][i]));
      xc[p] = XCorrection(xq[p]);
      dx[p] = PairPs(HalfToFloat(xb[2 * p][i].d), HalfToFloat(xb[2 * p + 1][i].d));
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Block& a = reinterpret_cast<const Block*>(w + r * w_stride)[i];
      const __m512i wb = BiasWeight(_mm512_broadcast_i64x4(WeightBlock(a)));
      const __m512 dw = _mm512_set1_ps(HalfToFloat(a.d));
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) {
        // mul of broadcasts == broadcast of the twin's scalar d_w * d_x (same bits).
        acc[r][p] = FuseBlock(_mm512_mul_ps(dw, dx[p]), LaneSums(wb, xq[p], xc[p]), acc[r][p]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int p = 0; p < P; ++p) {
      float lo, hi;
      StorePair(acc[r][p], &lo, &hi);
      y[(2 * p) * y_stride + r] = lo;
      if (2 * p + 1 < TT) y[(2 * p + 1) * y_stride + r] = hi;
    }
  }
}

template <typename Block>
void TileQ32Dispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x,
                     int tokens, float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, const void* const*, float*, int64_t);
#define SKV_TQ(R) {TileQ32<Block, R, 1>, TileQ32<Block, R, 2>, TileQ32<Block, R, 3>, TileQ32<Block, R, 4>}
  static constexpr Fn kTable[kQ32TileRows][4] = {SKV_TQ(1), SKV_TQ(2), SKV_TQ(3), SKV_TQ(4),
                                                  SKV_TQ(5), SKV_TQ(6), SKV_TQ(7), SKV_TQ(8)};
#undef SKV_TQ
  kTable[rows - 1][tokens - 1](n, w, w_stride, x, y, y_stride);
}


// One output's 8 lane sums (the same integers; here the activation is biased and the weight
// gives the correction, as a decode row meets each weight block once).
inline __m256i LaneSums8(__m256i w, __m256i x) {
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i neg = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), bias, w));
  return _mm256_dpbusd_epi32(neg, _mm256_xor_si256(x, bias), w);
}

// Decode (1..T tokens): rows one after another, each ONE sequential stream with a software
// prefetch (the AVX2 stream kernel's structure: the hardware prefetcher follows one stream per
// core far better than interleaved rows; pairing two rows in one zmm ran slower), 8 lanes
// per output, vpdpbusd for the lane sums. Each output is the twin's sequence.
template <typename Block, int T>
void RowsQ32(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x, float* y,
             int64_t y_stride) {
  const int64_t nb = n / kQK8_0;
  const BlockQ8_0* xb[T];
  for (int t = 0; t < T; ++t) xb[t] = static_cast<const BlockQ8_0*>(x[t]);
  for (int r = 0; r < rows; ++r) {
    const Block* a = reinterpret_cast<const Block*>(w + r * w_stride);
    const char* line = reinterpret_cast<const char*>(a);
    __m256 acc[T];
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      PrefetchStreamTo(line, a + i + 1);
      const __m256i wq = WeightBlock(a[i]);
      const __m256 dw = _mm256_set1_ps(HalfToFloat(a[i].d));
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(HalfToFloat(xb[t][i].d)));
        acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(LaneSums8(wq, XBlock(xb[t][i]))), acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) y[t * y_stride + r] = HsumF32x8(acc[t]);
  }
}

template <typename Block>
float OneQ32(int64_t n, const void* w, const void* x) {
  float o;
  RowsQ32<Block, 1>(n, static_cast<const uint8_t*>(w), 0, 1, &x, &o, 0);
  return o;
}

template <typename Block>
void StreamQ32Dispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x,
                       int tokens, float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, int, const void* const*, float*, int64_t);
  static constexpr Fn kTable[4] = {RowsQ32<Block, 1>, RowsQ32<Block, 2>, RowsQ32<Block, 3>, RowsQ32<Block, 4>};
  kTable[tokens - 1](n, w, w_stride, rows, x, y, y_stride);
}

// ---- Q4_K / Q5_K weights x Q8_K activations -----------------------------------------------

// fma(a, b, c) as one instruction (the twin's std::fma), never left to contraction.
inline float FmaF32(float a, float b, float c) {
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

// The 8 6-bit scales and 8 6-bit mins of a Q4_K/Q5_K block (GetScaleMinK4 for j = 0..7, four
// bytes at a time): j < 4 are the low 6 bits of bytes j (scale) and j+4 (min); j >= 4 take the
// low (scale) / high (min) nibble of byte j+4 and the top 2 bits of byte j-4 / j as bits 4-5.
inline void ScalesMinsK4(const uint8_t* q, uint8_t sc[8], uint8_t mn[8]) {
  uint32_t a, b, c;
  __builtin_memcpy(&a, q, 4);
  __builtin_memcpy(&b, q + 4, 4);
  __builtin_memcpy(&c, q + 8, 4);
  constexpr uint32_t k6 = 0x3F3F3F3Fu, k4 = 0x0F0F0F0Fu, k2 = 0x03030303u;
  const uint32_t s[2] = {a & k6, (c & k4) | (((a >> 6) & k2) << 4)};
  const uint32_t m[2] = {b & k6, ((c >> 4) & k4) | (((b >> 6) & k2) << 4)};
  __builtin_memcpy(sc, s, 8);
  __builtin_memcpy(mn, m, 8);
}

// The twin's integer summ = sum_j mn[j] * (bsums[2j] + bsums[2j+1]) for two tokens at once
// (lanes 0-7 token a, 8-15 token b): vpmaddwd of the 16 bsums with each min twice, then the 8
// products of each token summed (exact integers; any order gives the same sum).
inline void MinSumsPair(const BlockQ8_K& xa, const BlockQ8_K& xb, __m256i mins16, int32_t* sa, int32_t* sb) {
  const __m512i bs = Pair(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xa.bsums)),
                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.bsums)));
  const __m512i p = _mm512_madd_epi16(bs, _mm512_broadcast_i64x4(mins16));
  // Fold 16 lanes to 4 per token: (a0..7, b0..7) -> per 128-bit half sums.
  const __m256i lo = _mm512_castsi512_si256(p), hi = _mm512_extracti64x4_epi64(p, 1);
  const __m128i a4 = _mm_add_epi32(_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1));
  const __m128i b4 = _mm_add_epi32(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
  const __m128i ab = _mm_hadd_epi32(a4, b4);  // a01 a23 b01 b23
  const __m128i s2 = _mm_hadd_epi32(ab, ab);  // a b a b
  *sa = _mm_cvtsi128_si32(s2);
  *sb = _mm_extract_epi32(s2, 1);
}

// One weight row x TT tokens, tokens in pairs per zmm (an odd last token paired with itself).
// Per block, as the twin (DotQ45_K in vec_dot_scalar.cc): lane m of sumi = sum over the 8
// sub-blocks of scale * (elements 4m..4m+3 of weight x activation) — here maddubs (the pair
// sums, |x| <= 127 and q <= 31, so no saturation), then vpdpwssd with the scale (VNNI: the
// madd and the add in one instruction), exact; acc = fma(d_w * d_x, float(sumi), acc); the min
// term mins = fma(dmin_w * d_x, float(summ), mins) with summ from vpmaddwd; at the end
// HsumLanes8(acc) - mins. The weight's nibbles and scales are unpacked once per block for all
// tokens.
template <bool kFive, typename Block, int TT>
void RowQ45K(int64_t n, const Block* a, const BlockQ8_K* const* xb_in, float* y, int64_t y_stride) {
  constexpr int P = (TT + 1) / 2;
  const BlockQ8_K* xb[2 * P];
  for (int t = 0; t < 2 * P; ++t) xb[t] = xb_in[t < TT ? t : TT - 1];
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m512 acc[P];
  float mins[2 * P];
  for (int p = 0; p < P; ++p) acc[p] = _mm512_setzero_ps();
  for (int t = 0; t < 2 * P; ++t) mins[t] = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], mn[8];
    ScalesMinsK4(a[i].scales, sc, mn);
    __m512i sumi[P];
    for (int p = 0; p < P; ++p) sumi[p] = _mm512_setzero_si512();
    __m256i hb;
    if constexpr (kFive) hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh));
    for (int c = 0; c < 4; ++c) {
      const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * c));
      __m256i ql = _mm256_and_si256(q4, m4);
      __m256i qh = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
      if constexpr (kFive) {  // bit 2c (low nibbles) / 2c+1 (high) of qh[l] as bit 4
        const __m256i one = _mm256_set1_epi8(1);
        const __m128i sl = _mm_cvtsi32_si128(2 * c), sh = _mm_cvtsi32_si128(2 * c + 1);
        ql = _mm256_or_si256(ql, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb, sl), one), 4));
        qh = _mm256_or_si256(qh, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb, sh), one), 4));
      }
      const __m512i qlz = _mm512_broadcast_i64x4(ql), qhz = _mm512_broadcast_i64x4(qh);
      const __m512i s0 = _mm512_set1_epi16(sc[2 * c]), s1 = _mm512_set1_epi16(sc[2 * c + 1]);
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) {
        const __m512i y0 = Pair(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[2 * p][i].qs + 64 * c)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[2 * p + 1][i].qs + 64 * c)));
        const __m512i y1 = Pair(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[2 * p][i].qs + 64 * c + 32)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[2 * p + 1][i].qs + 64 * c + 32)));
        sumi[p] = _mm512_dpwssd_epi32(sumi[p], _mm512_maddubs_epi16(qlz, y0), s0);
        sumi[p] = _mm512_dpwssd_epi32(sumi[p], _mm512_maddubs_epi16(qhz, y1), s1);
      }
    }
    const float dw = HalfToFloat(a[i].d), dminw = HalfToFloat(a[i].dmin);
    __m128i mv = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn));
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mv, mv));  // m0 m0 m1 m1 .. m7 m7
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      const __m512 d = PairPs(dw * xb[2 * p][i].d, dw * xb[2 * p + 1][i].d);
      acc[p] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi[p]), acc[p]);
      int32_t summ[2];
      MinSumsPair(xb[2 * p][i], xb[2 * p + 1][i], mins16, &summ[0], &summ[1]);
      mins[2 * p] = FmaF32(dminw * xb[2 * p][i].d, static_cast<float>(summ[0]), mins[2 * p]);
      mins[2 * p + 1] = FmaF32(dminw * xb[2 * p + 1][i].d, static_cast<float>(summ[1]), mins[2 * p + 1]);
    }
  }
  for (int p = 0; p < P; ++p) {
    float lo, hi;
    StorePair(acc[p], &lo, &hi);
    y[(2 * p) * y_stride] = lo - mins[2 * p];
    if (2 * p + 1 < TT) y[(2 * p + 1) * y_stride] = hi - mins[2 * p + 1];
  }
}

// The sum of 8 int32 lanes (exact).
inline int32_t HsumI32x8(__m256i v) {
  const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  const __m128i h = _mm_hadd_epi32(s, s);
  return _mm_cvtsi128_si32(_mm_hadd_epi32(h, h));
}

// Decode (one token): the AVX2 kernel's 8-lane sequence (DotQ45_K in vec_dot_avx2.cc, = the
// twin), its integer parts in VNNI form: scales by vpdpwssd, min sums by vpmaddwd, the scales
// and mins unpacked four bytes at a time. Same integers, same float sequence: same bits.
template <bool kFive, typename Block>
float DotQ45K8(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], mn[8];
    ScalesMinsK4(a[i].scales, sc, mn);
    const __m128i mv = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn));
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mv, mv));
    const int32_t summ = HsumI32x8(
        _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].bsums)), mins16));
    __m256i sumi = _mm256_setzero_si256();
    __m256i hb;
    if constexpr (kFive) hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh));
    for (int c = 0; c < 4; ++c) {
      const __m256i q4 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * c));
      __m256i ql = _mm256_and_si256(q4, m4);
      __m256i qh = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
      if constexpr (kFive) {
        const __m256i one = _mm256_set1_epi8(1);
        const __m128i sl = _mm_cvtsi32_si128(2 * c), sh = _mm_cvtsi32_si128(2 * c + 1);
        ql = _mm256_or_si256(ql, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb, sl), one), 4));
        qh = _mm256_or_si256(qh, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb, sh), one), 4));
      }
      const __m256i y0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * c));
      const __m256i y1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 64 * c + 32));
      sumi = _mm256_dpwssd_epi32(sumi, _mm256_maddubs_epi16(ql, y0), _mm256_set1_epi16(sc[2 * c]));
      sumi = _mm256_dpwssd_epi32(sumi, _mm256_maddubs_epi16(qh, y1), _mm256_set1_epi16(sc[2 * c + 1]));
    }
    const float d = HalfToFloat(a[i].d) * b[i].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    const float dmin = HalfToFloat(a[i].dmin) * b[i].d;
    mins = FmaF32(dmin, static_cast<float>(summ), mins);
  }
  return HsumF32x8(acc) - mins;
}

// Q6_K's corr = sum_g scale_g * bsum_g (16 terms) as one vpmaddwd (exact).
inline int32_t CorrQ6K(const BlockQ6_K& a, const BlockQ8_K& x) {
  const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.scales)));
  return HsumI32x8(_mm256_madd_epi16(s16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums))));
}

template <bool kFive, typename Block, int TT>
void TileQ45K(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x, float* y,
              int64_t y_stride) {
  if constexpr (TT == 1) {  // decode: 8 lanes, nothing wasted; the same bits
    for (int r = 0; r < rows; ++r) y[r] = DotQ45K8<kFive, Block>(n, w + r * w_stride, x[0]);
  } else {
    const BlockQ8_K* xb[TT];
    for (int t = 0; t < TT; ++t) xb[t] = static_cast<const BlockQ8_K*>(x[t]);
    for (int r = 0; r < rows; ++r)
      RowQ45K<kFive, Block, TT>(n, reinterpret_cast<const Block*>(w + r * w_stride), xb, y + r, y_stride);
  }
}

template <bool kFive, typename Block>
void TileQ45KDispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x,
                      int tokens, float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, int, const void* const*, float*, int64_t);
  static constexpr Fn kTable[4] = {TileQ45K<kFive, Block, 1>, TileQ45K<kFive, Block, 2>, TileQ45K<kFive, Block, 3>,
                                   TileQ45K<kFive, Block, 4>};
  kTable[tokens - 1](n, w, w_stride, rows, x, y, y_stride);
}

// Q6_K x Q8_K, one weight row x TT tokens (two per zmm), as the twin (DotQ6_K) and the AVX2
// kernel: 6-bit values 0..63 (the -32 offset is the `fix` term 32 * sum(scale * bsum)), lane m
// of sumi the scaled sums of elements 4m..4m+3 of every 32-element group (lanes 0-3 scale 2k,
// 4-7 scale 2k+1), acc = fma(d, float(sumi), acc), fix = fma(d, float(32 * corr), fix).
template <int TT>
void RowQ6K(int64_t n, const BlockQ6_K* a, const BlockQ8_K* const* xb_in, float* y, int64_t y_stride) {
  constexpr int P = (TT + 1) / 2;
  const BlockQ8_K* xb[2 * P];
  for (int t = 0; t < 2 * P; ++t) xb[t] = xb_in[t < TT ? t : TT - 1];
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
  __m512 acc[P];
  float fix[TT];
  for (int p = 0; p < P; ++p) acc[p] = _mm512_setzero_ps();
  for (int t = 0; t < TT; ++t) fix[t] = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    __m512i sumi[P];
    for (int p = 0; p < P; ++p) sumi[p] = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = a[i].ql + 64 * h;
      const __m256i la = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i lb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(la, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(lb, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
      for (int k = 0; k < 4; ++k) {
        const int g = 8 * h + 2 * k;
        const __m512i qz = _mm512_broadcast_i64x4(q[k]);
        const __m512i s16 = _mm512_broadcast_i64x4(
            _mm256_set_m128i(_mm_set1_epi16(a[i].scales[g + 1]), _mm_set1_epi16(a[i].scales[g])));
        const int64_t off = 128 * h + 32 * k;
#pragma GCC unroll 2
        for (int p = 0; p < P; ++p) {
          const __m512i yz = Pair(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[2 * p][i].qs + off)),
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb[2 * p + 1][i].qs + off)));
          sumi[p] = _mm512_dpwssd_epi32(sumi[p], _mm512_maddubs_epi16(qz, yz), s16);
        }
      }
    }
    const float dw = HalfToFloat(a[i].d);
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      const __m512 d = PairPs(dw * xb[2 * p][i].d, dw * xb[2 * p + 1][i].d);
      acc[p] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi[p]), acc[p]);
    }
    for (int t = 0; t < TT; ++t) {
      fix[t] = FmaF32(dw * xb[t][i].d, static_cast<float>(32 * CorrQ6K(a[i], xb[t][i])), fix[t]);
    }
  }
  for (int p = 0; p < P; ++p) {
    float lo, hi;
    StorePair(acc[p], &lo, &hi);
    y[(2 * p) * y_stride] = lo - fix[2 * p];
    if (2 * p + 1 < TT) y[(2 * p + 1) * y_stride] = hi - fix[2 * p + 1];
  }
}

// Decode (one token): the AVX2 kernel's 8-lane Q6_K sequence (DotQ6_K in vec_dot_avx2.cc, = the
// twin) with corr by vpmaddwd and the scales by vpdpwssd: same integers, same bits.
float DotQ6K8(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  float fix = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const int32_t corr = CorrQ6K(a[i], b[i]);
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = a[i].ql + 64 * h;
      const __m256i la = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i lb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(la, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(lb, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
      for (int k = 0; k < 4; ++k) {
        const int g = 8 * h + 2 * k;
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 128 * h + 32 * k));
        const __m256i s16 = _mm256_set_m128i(_mm_set1_epi16(a[i].scales[g + 1]), _mm_set1_epi16(a[i].scales[g]));
        sumi = _mm256_dpwssd_epi32(sumi, _mm256_maddubs_epi16(q[k], y), s16);
      }
    }
    const float d = HalfToFloat(a[i].d) * b[i].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    fix = FmaF32(d, static_cast<float>(32 * corr), fix);
  }
  return HsumF32x8(acc) - fix;
}

template <int TT>
void TileQ6K(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x, float* y,
             int64_t y_stride) {
  if constexpr (TT == 1) {  // decode: 8 lanes (same bits)
    for (int r = 0; r < rows; ++r) y[r] = DotQ6K8(n, w + r * w_stride, x[0]);
  } else {
    const BlockQ8_K* xb[TT];
    for (int t = 0; t < TT; ++t) xb[t] = static_cast<const BlockQ8_K*>(x[t]);
    for (int r = 0; r < rows; ++r)
      RowQ6K<TT>(n, reinterpret_cast<const BlockQ6_K*>(w + r * w_stride), xb, y + r, y_stride);
  }
}

void TileQ6KDispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows, const void* const* x, int tokens,
                     float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, int, const void* const*, float*, int64_t);
  static constexpr Fn kTable[4] = {TileQ6K<1>, TileQ6K<2>, TileQ6K<3>, TileQ6K<4>};
  kTable[tokens - 1](n, w, w_stride, rows, x, y, y_stride);
}



}  // namespace

namespace internal {
// Float tiles: 4 rows x 3 tokens (24 zmm accumulators); F16/BF16 read activations widened to
// f32 once per matmul. Q32 tiles: 4 rows x 4 tokens (8 zmm accumulators, two tokens each).
#define SKV_FLOAT(T, L, F, TAIL, HADD, XF32)                                      \
  {.one = OneFloat<T, L, F, FloatTail::TAIL, HADD>,                                 \
   .tile = TileFloatDispatch<T, L, F, FloatTail::TAIL, HADD, XF32>,                 \
   .tile_rows = 4,                                                                 \
   .tile_tokens = 3,                                                               \
   .tile_reads_f32 = XF32,                                                         \
   .stream = RowsFloat<T, L, F, FloatTail::TAIL, HADD>,                             \
   .stream_tokens = 1}
#define SKV_Q32(B)                      \
  {.one = OneQ32<B>,                    \
   .tile = TileQ32Dispatch<B>,          \
   .tile_rows = kQ32TileRows,                      \
   .tile_tokens = 4,                    \
   .stream = StreamQ32Dispatch<B>,      \
   .stream_tokens = kTileMax}
// K-quants: one row at a time x up to 4 tokens (two per zmm); no stream kernel, so one-token
// tiles (decode) run 8-lane kernels (DotQ45K8, DotQ6K8), which do not waste half a register.
#define SKV_K(ONE, TILE) {.one = ONE, .tile = TILE, .tile_rows = 4, .tile_tokens = 4}
const VecDotTable kVecDotAvx512 = {
    .f32 = SKV_FLOAT(float, LoadF32x16, IdF32, kF32, true, false),
    .f16 = SKV_FLOAT(f16_t, LoadF16x16, F16F, kDouble, true, true),
    .bf16 = SKV_FLOAT(bf16_t, LoadBF16x16, BF16F, kDouble, false, true),
    .q8_0 = SKV_Q32(BlockQ8_0),
    .q4_0 = SKV_Q32(BlockQ4_0),
    .q4_k = SKV_K((DotQ45K8<false, BlockQ4_K>), (TileQ45KDispatch<false, BlockQ4_K>)),
    .q5_k = SKV_K((DotQ45K8<true, BlockQ5_K>), (TileQ45KDispatch<true, BlockQ5_K>)),
    .q6_k = SKV_K(DotQ6K8, TileQ6KDispatch),
    .q5_0 = SKV_Q32(BlockQ5_0),
};
#undef SKV_K
#undef SKV_Q32
#undef SKV_FLOAT
}  // namespace internal

}  // namespace swarmkv
