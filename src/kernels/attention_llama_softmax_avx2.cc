// AVX2 softmax steps of the llama.cpp-order attention (SoftmaxSteps in attention_llama.h), eight
// keys at a time, with the scalar version's bits:
// - the running maximum before key j is a prefix maximum over the scores, computed by a
//   log-step scan with _mm256_max_ps(later, earlier) = later > earlier ? later : earlier — the
//   scalar's `x > m` rule, so among equal values (+0/-0 included) the earliest is kept, and NaN
//   scores (mapped to -inf for the scan) never become the maximum, exactly as in key order;
// - ms/vs come from ExpfX8, glibc expf's bits (expf_x8.h);
// - the running sum stays the scalar S = S * ms + vs in key order. This file is compiled with
//   -ffp-contract=off so that multiply and add are never fused.
#include <immintrin.h>

#include <cmath>

#include "kernels/attention_llama.h"
#include "kernels/expf_x8.h"

namespace swarmkv::internal {
namespace {

// Lane i gets p[i - k] for i >= k and `fill` below.
template <int K>
inline __m256 ShiftUp(__m256 p, __m256 fill) {
  constexpr auto I = [](int i) { return i < K ? 0 : i - K; };
  const __m256i idx = _mm256_setr_epi32(I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7));
  return _mm256_blend_ps(_mm256_permutevar8x32_ps(p, idx), fill, (1 << K) - 1);
}

// ((((s + v0) + v1) + ...) + v7): scalar adds in lane order.
inline float AddLanesInOrder(float s, __m256 v) {
  __m128 acc = _mm_set_ss(s);
  for (__m128 h : {_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)}) {
    acc = _mm_add_ss(acc, h);
    acc = _mm_add_ss(acc, _mm_movehdup_ps(h));
    acc = _mm_add_ss(acc, _mm_movehl_ps(h, h));
    acc = _mm_add_ss(acc, _mm_shuffle_ps(h, h, 3));
  }
  return _mm_cvtss_f32(acc);
}

}  // namespace

void SoftmaxStepsAvx2(const float* scores, int n, float* max, float* sum, float* ms, float* vs) {
  const uint64_t* table = ExpfAvx2Table();
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY), one = _mm256_set1_ps(1.0f);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256 carry = _mm256_set1_ps(*max);  // the running maximum before the current 8 keys
  float s = *sum;
  for (int j = 0; j < n; j += 8) {
    const bool full = n - j >= 8;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - j), lanes);
    __m256 x = full ? _mm256_loadu_ps(scores + j) : _mm256_maskload_ps(scores + j, mask);
    x = _mm256_blendv_ps(neg_inf, x, _mm256_castsi256_ps(mask));  // lanes past n never win
    if (full && _mm256_movemask_ps(_mm256_cmp_ps(x, carry, _CMP_GT_OQ)) == 0) {
      // The common case: no new maximum among these keys, so ms = 1, vs = expf(x - M).
      const __m256 e = ExpfX8(_mm256_sub_ps(x, carry), table);
      _mm256_storeu_ps(ms + j, one);
      _mm256_storeu_ps(vs + j, e);
      s = AddLanesInOrder(s, e);  // S * 1 + vs = S + vs (see the NOTE below)
      continue;
    }
    __m256 p = _mm256_blendv_ps(x, neg_inf, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    p = _mm256_max_ps(p, ShiftUp<1>(p, neg_inf));
    p = _mm256_max_ps(p, ShiftUp<2>(p, neg_inf));
    p = _mm256_max_ps(p, ShiftUp<4>(p, neg_inf));
    p = _mm256_max_ps(p, carry);                     // the maximum through key j + i
    const __m256 before = ShiftUp<1>(p, carry);      // the maximum before key j + i
    const __m256 is_new = _mm256_cmp_ps(x, before, _CMP_GT_OQ);
    const __m256 arg = _mm256_blendv_ps(_mm256_sub_ps(x, before), _mm256_sub_ps(before, x), is_new);
    const __m256 e = ExpfX8(arg, table);
    const __m256 m = _mm256_blendv_ps(one, e, is_new), v = _mm256_blendv_ps(e, one, is_new);
    if (full) {
      _mm256_storeu_ps(ms + j, m);
      _mm256_storeu_ps(vs + j, v);
    } else {
      _mm256_maskstore_ps(ms + j, mask, m);
      _mm256_maskstore_ps(vs + j, mask, v);
    }
    carry = _mm256_permutevar8x32_ps(p, _mm256_set1_epi32(7));
    // NOTE: S * 1 is S exactly (S is never a signalling NaN), so keys that are not a new
    // maximum (ms = 1) skip the multiply: same bits, half the latency of the serial chain.
    const int new_max = _mm256_movemask_ps(is_new);
    if (full && new_max == 0) {
      s = AddLanesInOrder(s, v);  // vs from registers: no store-to-load forwarding in the chain
    } else {
      for (int i = 0; i < (full ? 8 : n - j); ++i) {
        if (new_max & (1 << i)) s *= ms[j + i];
        s += vs[j + i];
      }
    }
  }
  *max = _mm256_cvtss_f32(carry);
  *sum = s;
}

}  // namespace swarmkv::internal
