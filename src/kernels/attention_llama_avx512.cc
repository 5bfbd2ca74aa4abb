// AVX-512 scores and accumulate of the llama.cpp-order attention (attention_llama.h). Scores:
// DotF16Ggml's order 16 lanes at a time (mapped line by line below). Accumulate: the same
// element-wise sequence as AccumulateF16OrderScalar / AccumulateF16OrderAvx2 — per key, if
// ms != 1 acc = f16(acc * ms); then acc = f16(fma(v, vs, acc)), round to nearest even — on 16
// dims per register instead of 8. Each element's chain is independent of the others, so the
// register width cannot change a bit. Compiled with -mavx512f (vcvtps2ph/vcvtph2ps zmm) and
// -ffp-contract=off (only the written FMAs fuse), called only when CPUID reports AVX-512.
#include <immintrin.h>

#include "kernels/attention_llama.h"
#include "kernels/fp16.h"

namespace swarmkv::internal {
namespace {

inline __m512 RoundF16(__m512 x) { return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)); }

// NC registers (16 dims each) of NH heads sharing each V load: NH * NC independent round-trip
// chains hide the conversions' latency.
template <int NH, int NC>
void AccumulateHeads(const float* v, int64_t v_stride, int n, const float* ms, const float* vs,
                     int64_t s_stride, float* acc, int64_t acc_stride) {
  __m512 a[NH][NC];
  #pragma GCC unroll 8
  for (int h = 0; h < NH; ++h)
    #pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) a[h][c] = _mm512_loadu_ps(acc + h * acc_stride + 16 * c);
  for (int j = 0; j < n; ++j) {
    #pragma GCC unroll 8
    for (int h = 0; h < NH; ++h) {
      const float m = ms[h * s_stride + j];
      if (m != 1.0f) {
        const __m512 mv = _mm512_set1_ps(m);
        #pragma GCC unroll 8
        for (int c = 0; c < NC; ++c) a[h][c] = RoundF16(_mm512_mul_ps(a[h][c], mv));
      }
    }
    const float* vj = v + j * v_stride;
    #pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
      const __m512 x = _mm512_loadu_ps(vj + 16 * c);
      #pragma GCC unroll 8
      for (int h = 0; h < NH; ++h) a[h][c] = RoundF16(_mm512_fmadd_ps(x, _mm512_set1_ps(vs[h * s_stride + j]), a[h][c]));
    }
  }
  #pragma GCC unroll 8
  for (int h = 0; h < NH; ++h)
    #pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) _mm512_storeu_ps(acc + h * acc_stride + 16 * c, a[h][c]);
}

template <int NC>
void AccumulateDims(const float* v, int64_t v_stride, int n, const float* ms, const float* vs, int64_t s_stride,
                    int nh, float* acc, int64_t acc_stride) {
  int h = 0;
  for (; h + 3 <= nh; h += 3) AccumulateHeads<3, NC>(v, v_stride, n, ms + h * s_stride, vs + h * s_stride, s_stride, acc + h * acc_stride, acc_stride);
  if (nh - h == 2) AccumulateHeads<2, NC>(v, v_stride, n, ms + h * s_stride, vs + h * s_stride, s_stride, acc + h * acc_stride, acc_stride);
  if (nh - h == 1) AccumulateHeads<1, NC>(v, v_stride, n, ms + h * s_stride, vs + h * s_stride, s_stride, acc + h * acc_stride, acc_stride);
}

// ---- Scores: DotF16Ggml (attention.cc) 16 lanes at a time, line by line:
//   twin: four 8-lane accumulators a0..a3, a_c += k[i+8c..] * q[i+8c..] (FMA) per 32 elements
//   here: lo = a0|a1 (elements i..i+15), hi = a2|a3 (i+16..i+31), each lane the same FMA chain
//   twin: r = (a0 + a2) + (a1 + a3)       here: s = lo + hi = (a0+a2)|(a1+a3); r = s.lo8 + s.hi8
//   twin: t[l] = r[l] + r[l+4]; (t0 + t1) + (t2 + t3)   here: the same adds for sixteen keys at once
//   twin: + k[i]·q[i] (float product) in double for i >= dk & ~31, rounded to float; then · scale

inline __m512 Load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 Load16(const f16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

// s = lo + hi of one (query head, key) over np = 32·NS elements (NS = 0: np from the caller), with
// the query's 2·NS registers preloaded when NS > 0.
template <int NS, typename KT>
inline __m512 PartsF16Ggml(const KT* k, const float* q, const __m512* qv, int64_t np) {
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  if constexpr (NS > 0) {
    #pragma GCC unroll 8
    for (int i = 0; i < NS; ++i) {
      lo = _mm512_fmadd_ps(Load16(k + 32 * i), qv[2 * i], lo);
      hi = _mm512_fmadd_ps(Load16(k + 32 * i + 16), qv[2 * i + 1], hi);
    }
  } else {
    for (int64_t i = 0; i < np; i += 32) {
      lo = _mm512_fmadd_ps(Load16(k + i), _mm512_loadu_ps(q + i), lo);
      hi = _mm512_fmadd_ps(Load16(k + i + 16), _mm512_loadu_ps(q + i + 16), hi);
    }
  }
  return _mm512_add_ps(lo, hi);
}

// The per-128-bit-lane hadd of AVX2 (no 512-bit hadd): [a0+a1, a2+a3, b0+b1, b2+b3] per quarter.
// Float addition commutes exactly, so the pairing is what matters, not the operand order.
inline __m512 Hadd(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88), _mm512_shuffle_ps(a, b, 0xDD));
}

// Out lane j = key j's DotF16Ggml lane sum from its s[j] (r = s.lo8 + s.hi8, t[l] = r[l] + r[l+4],
// (t0 + t1) + (t2 + t3)) for sixteen keys. Quarters (128 bits) are named q0..q3.
inline __m512 ReduceSixteen(const __m512* s) {
  __m512 x[8];  // x[p] = [r_p | r_p+8]: q0|q1 of key p plus its q2|q3, likewise key p + 8
  #pragma GCC unroll 8
  for (int p = 0; p < 8; ++p)
    x[p] = _mm512_add_ps(_mm512_shuffle_f32x4(s[p], s[p + 8], 0x44), _mm512_shuffle_f32x4(s[p], s[p + 8], 0xEE));
  __m512 t[4];  // t[p] = [t(key p) | t(key p+8) | t(key p+4) | t(key p+12)], t(key)[l] = r[l] + r[l+4]
  #pragma GCC unroll 4
  for (int p = 0; p < 4; ++p)
    t[p] = _mm512_add_ps(_mm512_shuffle_f32x4(x[p], x[p + 4], 0x88), _mm512_shuffle_f32x4(x[p], x[p + 4], 0xDD));
  // Quarter c lane p: (t0 + t1) + (t2 + t3) of key p + {0, 8, 4, 12}[c]; put the quarters in key order.
  const __m512 f = Hadd(Hadd(t[0], t[1]), Hadd(t[2], t[3]));
  return _mm512_shuffle_f32x4(f, f, 0xD8);
}

template <int NS, typename KT>
void ScoresHead(const KT* k, int64_t k_stride, int n, const float* q, int64_t dk, float scale, float* out) {
  const int64_t np = dk & ~int64_t{31};
  __m512 qv[NS > 0 ? 2 * NS : 1];
  #pragma GCC unroll 8
  for (int i = 0; i < 2 * NS; ++i) qv[i] = _mm512_loadu_ps(q + 16 * i);
  const __m512 sc = _mm512_set1_ps(scale);
  for (int j = 0; j < n; j += 16) {
    const int m = n - j < 16 ? n - j : 16;
    __m512 s[16];
    if (m == 16) {
      #pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) s[i] = PartsF16Ggml<NS>(k + (j + i) * k_stride, q, qv, np);
    } else {
      for (int i = 0; i < 16; ++i) s[i] = i < m ? PartsF16Ggml<NS>(k + (j + i) * k_stride, q, qv, np) : _mm512_setzero_ps();
    }
    const __m512 r = ReduceSixteen(s);
    const __mmask16 mask = static_cast<__mmask16>((1u << m) - 1);
    if (np == dk) {
      _mm512_mask_storeu_ps(out + j, mask, _mm512_mul_ps(r, sc));
      continue;
    }
    alignas(64) float main_part[16];
    _mm512_store_ps(main_part, r);
    for (int i = 0; i < m; ++i) {
      const KT* kj = k + (j + i) * k_stride;
      double sum = static_cast<double>(main_part[i]);
      for (int64_t e = np; e < dk; ++e) {
        float ke;
        if constexpr (sizeof(KT) == 2) ke = F16ToF32(kj[e]); else ke = kj[e];
        sum += static_cast<double>(ke * q[e]);
      }
      out[j + i] = static_cast<float>(sum) * scale;
    }
  }
}

template <typename KT>
void Scores(const KT* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk, float scale,
            float* scores, int64_t score_stride) {
  for (int h = 0; h < nq; ++h) {
    const float* qh = q + h * dk;
    float* out = scores + h * score_stride;
    switch (dk >> 5) {  // the query in registers for up to 128 whole dims
      case 1: ScoresHead<1>(k, k_stride, n, qh, dk, scale, out); break;
      case 2: ScoresHead<2>(k, k_stride, n, qh, dk, scale, out); break;
      case 3: ScoresHead<3>(k, k_stride, n, qh, dk, scale, out); break;
      case 4: ScoresHead<4>(k, k_stride, n, qh, dk, scale, out); break;
      default: ScoresHead<0>(k, k_stride, n, qh, dk, scale, out);
    }
  }
}

}  // namespace

void ScoresF16GgmlAvx512(const float* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk,
                         float scale, float* scores, int64_t score_stride) {
  Scores(k, k_stride, n, q, nq, dk, scale, scores, score_stride);
}

void ScoresF16GgmlAvx512(const f16_t* k, int64_t k_stride, int n, const float* q, int nq, int64_t dk,
                         float scale, float* scores, int64_t score_stride) {
  Scores(k, k_stride, n, q, nq, dk, scale, scores, score_stride);
}

void AccumulateF16OrderAvx512(const float* v, int64_t v_stride, int n, const float* ms,
                              const float* vs, int64_t s_stride, int nh, int64_t dv, float* acc,
                              int64_t acc_stride) {
  int64_t d = 0;
  for (; d + 64 <= dv; d += 64) AccumulateDims<4>(v + d, v_stride, n, ms, vs, s_stride, nh, acc + d, acc_stride);
  for (; d + 16 <= dv; d += 16) AccumulateDims<1>(v + d, v_stride, n, ms, vs, s_stride, nh, acc + d, acc_stride);
  if (d < dv) AccumulateF16OrderAvx2(v + d, v_stride, n, ms, vs, s_stride, nh, dv - d, acc + d, acc_stride);
}

}  // namespace swarmkv::internal
