// Depthwise causal convolution over a token window — ggml_ssm_conv, the convolution of LFM2's
// gated short-conv layers (and of Mamba's conv1d) — with an optional elementwise gate.
//
//   y[t][c] = gate[t][c] * sum_{k=0..L-1} w[k][c] * xe[t + k][c]      (t < n, c < C)
//
// where xe holds L - 1 + n rows of C floats: the layer's conv state (the inputs of the L - 1
// tokens before the span) followed by the span's n input rows; without a gate y is the sum.
//
// One kernel for both models' conv (LFM2's short conv, 3 taps; Mamba-2's conv1d, 4 taps, whose
// bias SsmConv1d adds after): ggml_ssm_conv as llama.cpp's AVX2 build computes it, the order of
// the other kernels. Its loop `sumf += s[k] * c[k]` is vectorised by GCC in blocks of 8 and then
// one of 4 taps (products, then added to the float sum one by one, k ascending) and contracted
// to FMAs in the scalar remainder. So, from sum = 0.0f and k ascending:
//   k <  4 * floor(L / 4):  sum = sum + round(x * w)     (product rounded, then added)
//   k >= 4 * floor(L / 4):  sum = fma(x, w, sum)          (the last L mod 4 taps fused)
// i.e. 3 taps (LFM2) are an FMA chain and 4 taps (Mamba-2) are products then adds. Checked
// against libggml-cpu of that build for L = 1..12 (every output bit-equal; docs/kernels.md). The
// AVX-512 build differs (blocks of 16 and 8, then up to 7 fused taps: an FMA chain for 4 taps);
// the AVX2 order is the reference, as for every other kernel.
//
// Invariant: every level (scalar, AVX2, AVX-512; SWARMKV_KERNELS) gives the same bits — the
// SIMD twins vectorise over channels only, so each channel's sum keeps the scalar order — and a
// row's result depends only on its own window (batch and chunking invariance).
//
// Thread-safety: pure function over caller-owned buffers.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"

namespace swarmkv {

struct CausalConvArgs {
  const float* xe = nullptr;    // [L - 1 + n][xe_stride]: state rows, then input rows
  int64_t xe_stride = 0;        // floats from one row of xe to the next (>= C)
  const float* w = nullptr;     // [L][C]: tap k of channel c at w[k * C + c] (ggml's [C][L] transposed)
  int32_t taps = 0;             // L >= 1
  int64_t channels = 0;         // C
  int64_t n = 0;                // output rows
  const float* gate = nullptr;  // [n][gate_stride] or nullptr (no gate)
  int64_t gate_stride = 0;
  float* y = nullptr;           // [n][y_stride]
  int64_t y_stride = 0;
};

// Rows [t0, t1) of the output (so callers may spread rows over threads; same bits).
void CausalConv(const CausalConvArgs& a, int64_t t0, int64_t t1, Isa isa = ActiveIsa());

namespace internal {
// Taps [0, this) are products added to the sum; the rest are fused (ggml's AVX2 build).
inline int32_t CausalConvProductTaps(int32_t taps) { return taps / 4 * 4; }
// The SIMD bodies: channels [0, C - C % lanes) of rows [t0, t1); the scalar code does the rest.
void CausalConvAvx2(const CausalConvArgs& a, int64_t t0, int64_t t1);    // 8 lanes
void CausalConvAvx512(const CausalConvArgs& a, int64_t t0, int64_t t1);  // 16 lanes
}  // namespace internal

}  // namespace swarmkv
