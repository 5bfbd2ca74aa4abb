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

// Four 16-lane accumulators over 64 elements per step, then 16-element steps, then scalar.
template <typename T, __m512 (*Load)(const T*), float (*ToF)(T)>
float DotFloat(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const T*>(w);
  const auto* b = static_cast<const T*>(x);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(Load(a + i), Load(b + i), acc0);
    acc1 = _mm512_fmadd_ps(Load(a + i + 16), Load(b + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(Load(a + i + 32), Load(b + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(Load(a + i + 48), Load(b + i + 48), acc3);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(Load(a + i), Load(b + i), acc0);
  float s = Hsum16(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
  for (; i < n; ++i) s += ToF(a[i]) * ToF(b[i]);
  return s;
}

inline __m256i DotI8Vnni(__m256i x, __m256i y) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

float DotQ8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256 d = _mm256_set1_ps(HalfToFloat(a[i].d) * HalfToFloat(b[i].d));
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotI8Vnni(qx, qy)), acc);
  }
  return internal::HsumF32x8(acc);
}

float DotQ4_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const __m256 d = _mm256_set1_ps(HalfToFloat(a[i].d) * HalfToFloat(b[i].d));
    const __m256i qx = _mm256_sub_epi8(internal::UnpackNibbles32(a[i].qs), _mm256_set1_epi8(8));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DotI8Vnni(qx, qy)), acc);
  }
  return internal::HsumF32x8(acc);
}

}  // namespace

namespace internal {
const VecDotTable kVecDotAvx512 = {
    DotFloat<float, LoadF32x16, IdF32>,
    DotFloat<f16_t, LoadF16x16, F16F>,
    DotFloat<bf16_t, LoadBF16x16, BF16F>,
    DotQ8_0,
    DotQ4_0,
    nullptr,
    nullptr,
    nullptr,
};
}  // namespace internal

}  // namespace swarmkv
