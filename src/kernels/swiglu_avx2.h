// SwiGLU over whole groups of 8 lanes on AVX2 (the vector part of SwiGlu, kernels/ops.h).
//
// Invariant: y[i] has the bits of the scalar path of SwiGlu — silu through GgmlVecExp (ggml's
// AVX2 ggml_v_expf, out-of-range lanes included), then times up[i].
//
// Thread-safety: pure function. Only valid when the CPU has AVX2 and FMA.
#pragma once

#include <cstdint>

namespace swarmkv::internal {

// y[i] = silu(gate[i]) * up[i] for i < n, n a multiple of 8.
void SwiGluVecAvx2(const float* gate, const float* up, float* y, int64_t n);

}  // namespace swarmkv::internal
