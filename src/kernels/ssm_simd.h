// The per-ISA inner loops of the Mamba-2 kernels (kernels/ssm.h): scalar twins in ssm.cc, AVX2
// in ssm_avx2.cc, AVX-512 in ssm_avx512.cc. Same bits at every level (the order is ssm.h's).
//
// Invariant: this header declares plain functions only (no inline code, no templates), so the
// SIMD translation units that include it emit nothing the linker could share with other code.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

namespace swarmkv::internal {

// One scan row: s[j] = fma(s[j], dA, B[j]·x_dt); returns Σ s[j]·C[j] (four 8-lane accumulators
// over steps of 32, reduced as GGML_F32x8_REDUCE, the remainder fused one by one after it).
float SsmScanRowScalar(float* s, const float* B, const float* C, float dA, float x_dt, int64_t n);
float SsmScanRowAvx2(float* s, const float* B, const float* C, float dA, float x_dt, int64_t n);
float SsmScanRowAvx512(float* s, const float* B, const float* C, float dA, float x_dt, int64_t n);

}  // namespace swarmkv::internal
