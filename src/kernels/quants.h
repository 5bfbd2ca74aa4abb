// Row quantization and dequantization in ggml's block formats (scalar, exact).
//
// Invariant: QuantizeRow reproduces ggml's reference quantizers bit for bit
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref; f16/bf16 round to nearest even), and
// DequantizeRow reproduces ggml's dequantize_row_* for every type listed. `n` must be a multiple
// of the type's block size; a type or size that is not supported gives InvalidArgument.
//
// Activation quantizers (QuantizeRowQ8_0Act, QuantizeRowQ8_K) produce what ggml-cpu's x86
// from_float produces for the vec-dot type, so dot products match llama.cpp's numerics.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "gguf/tensor_type.h"
#include "kernels/quant_blocks.h"

namespace swarmkv {

// Types QuantizeRow accepts: F32, F16, BF16, Q8_0, Q4_0.
bool CanQuantize(TensorType type);
// Types DequantizeRow accepts: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K.
bool CanDequantize(TensorType type);

// Elements per block and bytes per block of the types above (1 / 4 for F32 ...); 0 if unknown.
int BlockElements(TensorType type);
int BlockBytes(TensorType type);
// Bytes of a row of n elements, or 0 when n is not a multiple of the block size / type unknown.
int64_t RowBytes(TensorType type, int64_t n);

Status QuantizeRow(TensorType type, const float* src, void* dst, int64_t n);
Status DequantizeRow(TensorType type, const void* src, float* dst, int64_t n);

// ggml-cpu's x86 quantize_row_q8_0 (the activation / KV path): d = amax/127,
// q = round-half-even(x * (127/amax)). Differs from the reference in the last bit sometimes.
// REQUIRES: n % 32 == 0.
void QuantizeRowQ8_0Act(const float* src, BlockQ8_0* dst, int64_t n);
namespace internal {
// Its two implementations (same bits); QuantizeRowQ8_0Act picks AVX2 when the CPU has it.
void QuantizeRowQ8_0ActScalar(const float* src, BlockQ8_0* dst, int64_t n);
void QuantizeRowQ8_0ActAvx2(const float* src, BlockQ8_0* dst, int64_t n);
}  // namespace internal
// ggml's quantize_row_q8_K_ref. REQUIRES: n % 256 == 0.
void QuantizeRowQ8_K(const float* src, BlockQ8_K* dst, int64_t n);

// Per-type scalar dequantizers (REQUIRES: n a multiple of the block size).
void DequantizeQ4_0(const BlockQ4_0* x, float* y, int64_t n);
void DequantizeQ4_1(const BlockQ4_1* x, float* y, int64_t n);
void DequantizeQ5_0(const BlockQ5_0* x, float* y, int64_t n);
void DequantizeQ5_1(const BlockQ5_1* x, float* y, int64_t n);
void DequantizeQ8_0(const BlockQ8_0* x, float* y, int64_t n);
void DequantizeQ2_K(const BlockQ2_K* x, float* y, int64_t n);
void DequantizeQ3_K(const BlockQ3_K* x, float* y, int64_t n);
void DequantizeQ4_K(const BlockQ4_K* x, float* y, int64_t n);
void DequantizeQ5_K(const BlockQ5_K* x, float* y, int64_t n);
void DequantizeQ6_K(const BlockQ6_K* x, float* y, int64_t n);

}  // namespace swarmkv
