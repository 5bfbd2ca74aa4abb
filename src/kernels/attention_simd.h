// Inner loops of PagedAttention for f16 K/V (the default KV dtype), per ISA.
//
// Invariant: pure functions with a fixed instruction sequence per (n, group, dims), so the
// attention result stays a function of the query's position and the KV alone.
// q holds `group` query heads of Dk floats already rounded to f16 (llama.cpp's conversion).
#pragma once

#include <cstdint>

#include "gguf/tensor_type.h"
#include "kernels/fp16.h"

namespace swarmkv::internal {

// One K/V row of a KV dtype (f32, f16, bf16, q8_0, q4_0) to n floats.
void DequantizeKvRow(TensorType t, const uint8_t* row, float* out, int64_t n);

struct AttentionF16Kernels {
  // scores[g * score_stride + j] = scale * dot(K row j, q_g) for j < n, g < group.
  void (*scores)(const uint8_t* k_rows, int64_t k_stride, int n, const float* q, int group,
                 int64_t dk, float scale, float* scores, int64_t score_stride);
  // acc[g * acc_stride + d] += p[g * p_stride + j] * V row j [d] for j < n, d < dv.
  void (*accumulate)(const uint8_t* v_rows, int64_t v_stride, int n, const float* p,
                     int64_t p_stride, int group, int64_t dv, float* acc, int64_t acc_stride);
};

// dot(k, q) in the order of llama.cpp's ggml_vec_dot_f16 as built for x86 AVX2 (GGML_F16_STEP =
// 32): elements [0, n & ~31) in four 8-lane f32 FMA accumulators, reduced (a0+a2)+(a1+a3), then
// lanes (l0+l4 + l1+l5) + (l2+l6 + l3+l7); the remaining elements added one by one in double;
// rounded to float at the end. q holds f16-exact floats. Scalar, fused multiply-adds via
// std::fma, so it gives the same bits on every ISA.
float DotF16Ggml(const f16_t* k, const float* q, int64_t n);

// Only valid when the CPU has AVX2/F16C/FMA.
extern const AttentionF16Kernels kAttentionF16Avx2;
// The same bits on any CPU (lane-by-lane twins).
extern const AttentionF16Kernels kAttentionF16Scalar;

// s[j] = exp(s[j] - max) for j < n; returns the sum of the new s[j] added front to back in
// 8-lane groups (fixed order for a given n). AVX2+FMA; accuracy ~2 ulp (Cephes expf scheme).
float ExpShiftSumAvx2(float* s, int64_t n, float max);
// The same bits without AVX2 (its scalar twin).
float ExpShiftSumScalar(float* s, int64_t n, float max);

}  // namespace swarmkv::internal
