// AVX-512 (F/BW/VL + VNNI) dot products, compiled with those -m flags only and called only
// when CPUID reports them. Float rows use 16-lane accumulators. Q8_0/Q4_0 and K-quants have no
// AVX-512 kernel: GetVecDot falls back to AVX2 (for Q8_0/Q4_0 on purpose: see the table).
#include "kernels/quants.h"
#include "kernels/simd_x86.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

using internal::HalfToFloat;

inline float Hsum16(__m512 v) { return _mm512_reduce_add_ps(v); }

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

// NT tokens against one weight row; per token four 16-lane accumulators over 64 elements per
// step, then 16-element steps, then a scalar tail — identical for NT = 1 and NT > 1.
template <typename T, __m512 (*Load)(const T*), float (*ToF)(T), int NT>
void DotFloatN(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const T*>(w);
  const T* b[NT];
  __m512 acc[NT][4];
  for (int t = 0; t < NT; ++t) {
    b[t] = static_cast<const T*>(x[t]);
    for (int k = 0; k < 4; ++k) acc[t][k] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int k = 0; k < 4; ++k) {
      const __m512 wv = Load(a + i + 16 * k);
      for (int t = 0; t < NT; ++t) acc[t][k] = _mm512_fmadd_ps(wv, Load(b[t] + i + 16 * k), acc[t][k]);
    }
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 wv = Load(a + i);
    for (int t = 0; t < NT; ++t) acc[t][0] = _mm512_fmadd_ps(wv, Load(b[t] + i), acc[t][0]);
  }
  for (int t = 0; t < NT; ++t) {
    float s = Hsum16(_mm512_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]), _mm512_add_ps(acc[t][2], acc[t][3])));
    for (int64_t j = i; j < n; ++j) s += ToF(a[j]) * ToF(b[t][j]);
    out[t] = s;
  }
}

// Float weight types (f32/f16/bf16) as register tiles: per output ONE 16-lane accumulator
// over 16-element steps, the tail (n % 16) through a masked load, one horizontal sum. R rows x
// T tokens share loads; every (R, T) gives each output the same instruction sequence.
inline __m512 LoadF32M(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 LoadF16M(const f16_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512 LoadBF16M(const bf16_t* p, __mmask16 m) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

template <typename T, __m512 (*Load)(const T*), __m512 (*LoadM)(const T*, __mmask16), int R, int TT>
void TileFloat(int64_t n, const uint8_t* w, int64_t w_stride, const void* const* x, float* y,
               int64_t y_stride) {
  __m512 acc[R][TT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_setzero_ps();
  const T* xs[TT];
  for (int t = 0; t < TT; ++t) xs[t] = static_cast<const T*>(x[t]);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = Load(xs[t] + i);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = Load(reinterpret_cast<const T*>(w + r * w_stride) + i);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 xv[TT];
    for (int t = 0; t < TT; ++t) xv[t] = LoadM(xs[t] + i, m);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = LoadM(reinterpret_cast<const T*>(w + r * w_stride) + i, m);
      for (int t = 0; t < TT; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < TT; ++t) y[t * y_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
}

template <typename T, __m512 (*Load)(const T*), __m512 (*LoadM)(const T*, __mmask16)>
void TileFloatDispatch(int64_t n, const uint8_t* w, int64_t w_stride, int rows,
                       const void* const* x, int tokens, float* y, int64_t y_stride) {
  using Fn = void (*)(int64_t, const uint8_t*, int64_t, const void* const*, float*, int64_t);
  static constexpr Fn kTable[4][4] = {
      {TileFloat<T, Load, LoadM, 1, 1>, TileFloat<T, Load, LoadM, 1, 2>, TileFloat<T, Load, LoadM, 1, 3>, TileFloat<T, Load, LoadM, 1, 4>},
      {TileFloat<T, Load, LoadM, 2, 1>, TileFloat<T, Load, LoadM, 2, 2>, TileFloat<T, Load, LoadM, 2, 3>, TileFloat<T, Load, LoadM, 2, 4>},
      {TileFloat<T, Load, LoadM, 3, 1>, TileFloat<T, Load, LoadM, 3, 2>, TileFloat<T, Load, LoadM, 3, 3>, TileFloat<T, Load, LoadM, 3, 4>},
      {TileFloat<T, Load, LoadM, 4, 1>, TileFloat<T, Load, LoadM, 4, 2>, TileFloat<T, Load, LoadM, 4, 3>, TileFloat<T, Load, LoadM, 4, 4>},
  };
  kTable[rows - 1][tokens - 1](n, w, w_stride, x, y, y_stride);
}

template <typename T, __m512 (*Load)(const T*), __m512 (*LoadM)(const T*, __mmask16)>
float OneFloat(int64_t n, const void* w, const void* x) {
  float o;
  TileFloat<T, Load, LoadM, 1, 1>(n, static_cast<const uint8_t*>(w), 0, &x, &o, 0);
  return o;
}


}  // namespace

namespace internal {
const VecDotTable kVecDotAvx512 = {
    {OneFloat<float, LoadF32x16, LoadF32M>, nullptr, 0, TileFloatDispatch<float, LoadF32x16, LoadF32M>},
    {OneFloat<f16_t, LoadF16x16, LoadF16M>, nullptr, 0, TileFloatDispatch<f16_t, LoadF16x16, LoadF16M>},
    {OneFloat<bf16_t, LoadBF16x16, LoadBF16M>, nullptr, 0, TileFloatDispatch<bf16_t, LoadBF16x16, LoadBF16M>},
    // Q8_0/Q4_0 run the AVX2 kernels on AVX-512 machines too: those follow ggml-cpu's x86 float
    // order bit for bit (llama.cpp parity). A VNNI tile summing two blocks per zmm (in git
    // history) was faster but summed in another order; a VNNI version must keep the AVX2 order.
    {},
    {},
    {},
    {},
    {},
    {},  // q5_0: the AVX2 kernel, same reason
};
}  // namespace internal

}  // namespace swarmkv
