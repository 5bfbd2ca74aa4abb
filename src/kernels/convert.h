// Row conversions between float and f16/bf16, using F16C / AVX-512 when the CPU has them.
//
// Invariant: results are bit-identical to the scalar conversions of kernels/fp16.h (round to
// nearest even) whatever ISA runs them.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "kernels/fp16.h"

namespace swarmkv {

void F16ToF32Row(const f16_t* x, float* y, int64_t n);
void F32ToF16Row(const float* x, f16_t* y, int64_t n);
void BF16ToF32Row(const bf16_t* x, float* y, int64_t n);
void F32ToBF16Row(const float* x, bf16_t* y, int64_t n);

namespace internal {
void F16ToF32RowF16C(const f16_t* x, float* y, int64_t n);
void F32ToF16RowF16C(const float* x, f16_t* y, int64_t n);
}  // namespace internal

}  // namespace swarmkv
