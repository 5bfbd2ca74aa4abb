// AVX-512 (F/BW/VL + VNNI) dot products, compiled with those -m flags only and called only
// when CPUID reports them. Float rows use 16-lane accumulators; Q8_0/Q4_0 use VNNI's dpbusd
// (no 16-bit intermediate). K-quants have no AVX-512 kernel yet: GetVecDot falls back to AVX2.
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

// VNNI int8 dot per 32-element block (|w| via sign, y signed by w), NT tokens per weight row.
template <typename Block, bool kNibbles, int NT>
void DotQ8N(int64_t n, const void* w, const void* const* x, float* out) {
  const auto* a = static_cast<const Block*>(w);
  const BlockQ8_0* b[NT];
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) {
    b[t] = static_cast<const BlockQ8_0*>(x[t]);
    acc[t] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const float dw = HalfToFloat(a[i].d);
    __m256i qx;
    if constexpr (kNibbles) {
      qx = _mm256_sub_epi8(internal::UnpackNibbles32(a[i].qs), _mm256_set1_epi8(8));
    } else {
      qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    }
    const __m256i ax = _mm256_sign_epi8(qx, qx);
    for (int t = 0; t < NT; ++t) {
      const __m256 d = _mm256_set1_ps(dw * HalfToFloat(b[t][i].d));
      const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[t][i].qs));
      const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, _mm256_sign_epi8(qy, qx));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = internal::HsumF32x8(acc[t]);
}

template <void (*Multi)(int64_t, const void*, const void* const*, float*)>
float One(int64_t n, const void* w, const void* x) {
  float o;
  Multi(n, w, &x, &o);
  return o;
}

}  // namespace

namespace internal {
const VecDotTable kVecDotAvx512 = {
    {One<DotFloatN<float, LoadF32x16, IdF32, 1>>, DotFloatN<float, LoadF32x16, IdF32, 4>, 4},
    {One<DotFloatN<f16_t, LoadF16x16, F16F, 1>>, DotFloatN<f16_t, LoadF16x16, F16F, 4>, 4},
    {One<DotFloatN<bf16_t, LoadBF16x16, BF16F, 1>>, DotFloatN<bf16_t, LoadBF16x16, BF16F, 4>, 4},
    {One<DotQ8N<BlockQ8_0, false, 1>>, DotQ8N<BlockQ8_0, false, 4>, 4},
    {One<DotQ8N<BlockQ4_0, true, 1>>, DotQ8N<BlockQ4_0, true, 4>, 4},
    {},
    {},
    {},
};
}  // namespace internal

}  // namespace swarmkv
