// AVX-512 accumulate of the llama.cpp-order attention (see attention_llama.h): the same
// element-wise sequence as AccumulateF16OrderScalar / AccumulateF16OrderAvx2 — per key, if
// ms != 1 acc = f16(acc * ms); then acc = f16(fma(v, vs, acc)), round to nearest even — on 16
// dims per register instead of 8. Each element's chain is independent of the others, so the
// register width cannot change a bit. Compiled with -mavx512f (vcvtps2ph/vcvtph2ps zmm) and
// called only when CPUID reports AVX-512.
#include <immintrin.h>

#include "kernels/attention_llama.h"

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

}  // namespace

void AccumulateF16OrderAvx512(const float* v, int64_t v_stride, int n, const float* ms,
                              const float* vs, int64_t s_stride, int nh, int64_t dv, float* acc,
                              int64_t acc_stride) {
  int64_t d = 0;
  for (; d + 64 <= dv; d += 64) AccumulateDims<4>(v + d, v_stride, n, ms, vs, s_stride, nh, acc + d, acc_stride);
  for (; d + 16 <= dv; d += 16) AccumulateDims<1>(v + d, v_stride, n, ms, vs, s_stride, nh, acc + d, acc_stride);
  if (d < dv) AccumulateF16OrderAvx2(v + d, v_stride, n, ms, vs, s_stride, nh, dv - d, acc + d, acc_stride);
}

}  // namespace swarmkv::internal
