// AVX2 accumulate of the llama.cpp-order attention (see attention_llama.h): the V accumulator
// stays in registers across keys (64 dims = 8 registers per pass), rounded to f16 and back after
// every operation with F16C — the scalar twin's F32ToF16 / F16ToF32, round to nearest even.
#include <immintrin.h>

#include "kernels/attention_llama.h"
#include "kernels/fp16.h"

namespace swarmkv::internal {
namespace {

inline __m256 RoundF16(__m256 x) { return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)); }

// Eight K or V elements as floats: f32 rows (converted once per block for many heads) or f16
// rows read straight from the KV block (one head per task: no conversion pass). Exact either way.
inline __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 Load8(const f16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

template <int NC, typename VT>  // NC registers of 8 dims
void AccumulateChunk(const VT* v, int64_t v_stride, int n, const float* ms, const float* vs,
                     float* acc) {
  __m256 a[NC];
  #pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) a[c] = _mm256_loadu_ps(acc + 8 * c);
  for (int j = 0; j < n; ++j) {
    if (ms[j] != 1.0f) {
      const __m256 m = _mm256_set1_ps(ms[j]);
      #pragma GCC unroll 8
      for (int c = 0; c < NC; ++c) a[c] = RoundF16(_mm256_mul_ps(a[c], m));
    }
    const __m256 s = _mm256_set1_ps(vs[j]);
    const VT* vj = v + j * v_stride;
    #pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) a[c] = RoundF16(_mm256_fmadd_ps(Load8(vj + 8 * c), s, a[c]));
  }
  #pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) _mm256_storeu_ps(acc + 8 * c, a[c]);
}

// r = (a0 + a2) + (a1 + a3) of ggml_vec_dot_f16's four accumulators for one (query head, key).
template <typename KT>
inline __m256 DotPartsF16Ggml(const KT* k, const float* q, int64_t dk) {
  __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t i = 0; i < dk; i += 32) {
    #pragma GCC unroll 8
    for (int c = 0; c < 4; ++c) a[c] = _mm256_fmadd_ps(Load8(k + i + 8 * c), _mm256_loadu_ps(q + i + 8 * c), a[c]);
  }
  return _mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3]));
}

// Lane sums of r0..r7 in DotF16Ggml's order, (r[0]+r[4] + r[1]+r[5]) + (r[2]+r[6] + r[3]+r[7]),
// for eight keys at once: out lane j belongs to key j (the same additions, 8 keys per instruction).
inline __m256 ReduceEight(const __m256* r) {
  __m256 t[4];  // t[p] = [lo(r_a) + hi(r_a) | lo(r_b) + hi(r_b)] for the pairs (0,4) (1,5) (2,6) (3,7)
  for (int p = 0; p < 4; ++p) {
    t[p] = _mm256_add_ps(_mm256_permute2f128_ps(r[p], r[p + 4], 0x20), _mm256_permute2f128_ps(r[p], r[p + 4], 0x31));
  }
  // hadd pairs within 128-bit lanes: lane 0 serves keys 0..3, lane 1 keys 4..7.
  const __m256 u01 = _mm256_hadd_ps(t[0], t[1]);  // [k0 01, k0 23, k1 01, k1 23 | k4.., k5..]
  const __m256 u23 = _mm256_hadd_ps(t[2], t[3]);
  return _mm256_hadd_ps(u01, u23);  // [k0, k1, k2, k3 | k4, k5, k6, k7]
}

// 32 dims (4 registers) of NH heads sharing each V load.
template <int NH, typename VT>
void AccumulateHeads(const VT* v, int64_t v_stride, int n, const float* ms, const float* vs,
                     int64_t s_stride, float* acc, int64_t acc_stride) {
  __m256 a[NH][4];
  #pragma GCC unroll 8
  for (int h = 0; h < NH; ++h)
    #pragma GCC unroll 8
    for (int c = 0; c < 4; ++c) a[h][c] = _mm256_loadu_ps(acc + h * acc_stride + 8 * c);
  for (int j = 0; j < n; ++j) {
    #pragma GCC unroll 8
    for (int h = 0; h < NH; ++h) {
      const float m = ms[h * s_stride + j];
      if (m != 1.0f) {
        const __m256 mv = _mm256_set1_ps(m);
        #pragma GCC unroll 8
        for (int c = 0; c < 4; ++c) a[h][c] = RoundF16(_mm256_mul_ps(a[h][c], mv));
      }
    }
    const VT* vj = v + j * v_stride;
    #pragma GCC unroll 8
    for (int c = 0; c < 4; ++c) {
      const __m256 x = Load8(vj + 8 * c);
      #pragma GCC unroll 8
      for (int h = 0; h < NH; ++h) a[h][c] = RoundF16(_mm256_fmadd_ps(x, _mm256_set1_ps(vs[h * s_stride + j]), a[h][c]));
    }
  }
  #pragma GCC unroll 8
  for (int h = 0; h < NH; ++h)
    #pragma GCC unroll 8
    for (int c = 0; c < 4; ++c) _mm256_storeu_ps(acc + h * acc_stride + 8 * c, a[h][c]);
}

template <typename KT>
void Scores(const KT* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk, float scale,
            float* scores, int64_t score_stride) {
  const __m256 sc = _mm256_set1_ps(scale);
  for (int h = 0; h < nq; ++h) {
    const float* qh = q + h * dk;
    float* out = scores + h * score_stride;
    int j = 0;
    for (; j + 8 <= n; j += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = DotPartsF16Ggml(k + (j + i) * k_stride, qh, dk);
      _mm256_storeu_ps(out + j, _mm256_mul_ps(ReduceEight(r), sc));
    }
    if (j < n) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = j + i < n ? DotPartsF16Ggml(k + (j + i) * k_stride, qh, dk) : _mm256_setzero_ps();
      float tmp[8];
      _mm256_storeu_ps(tmp, _mm256_mul_ps(ReduceEight(r), sc));
      for (int i = 0; j + i < n; ++i) out[j + i] = tmp[i];
    }
  }
}

template <typename VT>
void Accumulate(const VT* v, int64_t v_stride, int n, const float* ms, const float* vs,
                int64_t s_stride, int nh, int64_t dv, float* acc, int64_t acc_stride) {
  int64_t d = 0;
  if (nh >= 2) {  // 32 dims of up to three heads at once: 12 independent f16 round-trip chains
    for (; d + 32 <= dv; d += 32) {
      int h = 0;
      for (; h + 3 <= nh; h += 3) AccumulateHeads<3>(v + d, v_stride, n, ms + h * s_stride, vs + h * s_stride, s_stride, acc + h * acc_stride + d, acc_stride);
      if (nh - h == 2) AccumulateHeads<2>(v + d, v_stride, n, ms + h * s_stride, vs + h * s_stride, s_stride, acc + h * acc_stride + d, acc_stride);
      if (nh - h == 1) AccumulateHeads<1>(v + d, v_stride, n, ms + h * s_stride, vs + h * s_stride, s_stride, acc + h * acc_stride + d, acc_stride);
    }
  }
  for (int h = 0; h < nh; ++h) {  // one head: 64 dims (8 chains) at a time, then 8-dim tails
    const float* mh = ms + h * s_stride;
    const float* vh = vs + h * s_stride;
    float* ah = acc + h * acc_stride;
    int64_t e = d;
    for (; e + 64 <= dv; e += 64) AccumulateChunk<8>(v + e, v_stride, n, mh, vh, ah + e);
    for (; e < dv; e += 8) AccumulateChunk<1>(v + e, v_stride, n, mh, vh, ah + e);
  }
}

}  // namespace

void ScoresF16GgmlAvx2(const float* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk,
                       float scale, float* scores, int64_t score_stride) {
  Scores(k, k_stride, n, q, nq, dk, scale, scores, score_stride);
}

void ScoresF16GgmlAvx2(const f16_t* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk,
                       float scale, float* scores, int64_t score_stride) {
  Scores(k, k_stride, n, q, nq, dk, scale, scores, score_stride);
}

void AccumulateF16OrderAvx2(const float* v, int64_t v_stride, int n, const float* ms,
                            const float* vs, int64_t s_stride, int nh, int64_t dv, float* acc,
                            int64_t acc_stride) {
  Accumulate(v, v_stride, n, ms, vs, s_stride, nh, dv, acc, acc_stride);
}

void AccumulateF16OrderAvx2(const f16_t* v, int64_t v_stride, int n, const float* ms,
                            const float* vs, int64_t s_stride, int nh, int64_t dv, float* acc,
                            int64_t acc_stride) {
  Accumulate(v, v_stride, n, ms, vs, s_stride, nh, dv, acc, acc_stride);
}

}  // namespace swarmkv::internal
