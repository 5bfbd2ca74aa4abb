// AVX2 inner loops of PagedAttention over f16 K/V rows: the scores of a block of keys for a
// group of query heads, and the probability-weighted sum of V rows (declared in
// kernels/attention_simd.h; kernels/attention.cc calls them only when CPUID reports AVX2, FMA
// and F16C, with Dk and Dv multiples of 8). Each K/V row is converted once and used by every
// head of the group. The scalar twins (kAttentionF16Scalar, kernels/attention.cc) give the same
// bits.
#include <immintrin.h>

#include "kernels/attention_simd.h"
#include "kernels/simd_x86.h"

namespace swarmkv::internal {
namespace {

void ScoresF16(const uint8_t* k_rows, int64_t k_stride, int n, const float* q, int group,
               int64_t dk, float scale, float* scores, int64_t score_stride) {
  if (dk == 64) {  // the common head size: the K row stays in 8 registers for every head
    for (int j = 0; j < n; ++j) {
      const auto* k = reinterpret_cast<const f16_t*>(k_rows + j * k_stride);
      __m256 kv[8];
      for (int c = 0; c < 8; ++c) kv[c] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + 8 * c)));
      for (int g = 0; g < group; ++g) {
        const float* qg = q + g * dk;
        __m256 acc0 = _mm256_mul_ps(kv[0], _mm256_loadu_ps(qg));
        __m256 acc1 = _mm256_mul_ps(kv[1], _mm256_loadu_ps(qg + 8));
        for (int c = 2; c < 8; c += 2) {
          acc0 = _mm256_fmadd_ps(kv[c], _mm256_loadu_ps(qg + 8 * c), acc0);
          acc1 = _mm256_fmadd_ps(kv[c + 1], _mm256_loadu_ps(qg + 8 * c + 8), acc1);
        }
        scores[g * score_stride + j] = HsumF32x8(_mm256_add_ps(acc0, acc1)) * scale;
      }
    }
    return;
  }
  for (int j = 0; j < n; ++j) {
    const auto* k = reinterpret_cast<const f16_t*>(k_rows + j * k_stride);
    for (int g = 0; g < group; ++g) {
      const float* qg = q + g * dk;
      __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
      int64_t i = 0;
      for (; i + 16 <= dk; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i))),
                               _mm256_loadu_ps(qg + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i + 8))),
                               _mm256_loadu_ps(qg + i + 8), acc1);
      }
      for (; i < dk; i += 8) {
        acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i))),
                               _mm256_loadu_ps(qg + i), acc0);
      }
      scores[g * score_stride + j] = HsumF32x8(_mm256_add_ps(acc0, acc1)) * scale;
    }
  }
}

void AccumulateF16(const uint8_t* v_rows, int64_t v_stride, int n, const float* p,
                   int64_t p_stride, int group, int64_t dv, float* acc, int64_t acc_stride) {
  // Per 8-wide column chunk: the group's accumulators stay in registers across all n rows, and
  // each V element is converted once. Heads beyond 8 are done in further passes.
  for (int g0 = 0; g0 < group; g0 += 8) {
    const int gn = group - g0 < 8 ? group - g0 : 8;  // no std:: templates in SIMD TUs (ODR)
    for (int64_t i = 0; i < dv; i += 8) {
      __m256 a[8];
      for (int g = 0; g < gn; ++g) a[g] = _mm256_loadu_ps(acc + (g0 + g) * acc_stride + i);
      for (int j = 0; j < n; ++j) {
        const auto* v = reinterpret_cast<const f16_t*>(v_rows + j * v_stride);
        const __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
        for (int g = 0; g < gn; ++g) {
          a[g] = _mm256_fmadd_ps(_mm256_set1_ps(p[(g0 + g) * p_stride + j]), vv, a[g]);
        }
      }
      for (int g = 0; g < gn; ++g) _mm256_storeu_ps(acc + (g0 + g) * acc_stride + i, a[g]);
    }
  }
}

}  // namespace

const AttentionF16Kernels kAttentionF16Avx2 = {ScoresF16, AccumulateF16};

}  // namespace swarmkv::internal
