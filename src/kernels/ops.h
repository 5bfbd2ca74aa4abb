// Elementwise and row operations of the forward pass, following llama.cpp's CPU formulas.
//
// Invariant: each function processes one row (or one token's heads) with a fixed reduction
// order — sums run front to back in double, as ggml's CPU ops do — so a token's result depends
// only on its own inputs, never on batch composition or threading.
//
// Thread-safety: pure functions over caller-owned buffers.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "gguf/tensor_type.h"

namespace swarmkv {

// y[i] = x[i] * (1 / sqrt(mean(x^2) + eps)) * (weight ? weight[i] : 1). y may alias x.
void RmsNorm(const float* x, const float* weight, float* y, int64_t n, float eps);

// Rotary position embedding parameters (llama.cpp's ggml_rope_ext arguments).
struct RopeParams {
  int n_dims = 0;             // rotated dimensions per head (<= head_dim, even)
  bool neox = false;          // false: adjacent pairs (llama); true: halves (qwen2/qwen3, NeoX)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;    // 1 / linear scaling factor
  float ext_factor = 0.0f;    // YaRN extrapolation mix (0 disables YaRN)
  float attn_factor = 1.0f;   // YaRN magnitude scale
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int n_ctx_orig = 0;         // training context, for YaRN's correction dims
  const float* freq_factors = nullptr;  // optional per-pair divisors (llama 3.1 rope_freqs)
};

// Rotates the first n_dims of each of n_heads vectors of head_dim floats at x (contiguous
// heads), in place, for absolute position `pos`.
void ApplyRope(const RopeParams& params, int64_t pos, float* x, int64_t head_dim, int64_t n_heads);

// In place: x = exp(x - max) / sum. REQUIRES: n > 0.
void Softmax(float* x, int64_t n);
// exp(x) computed exactly as llama.cpp's AVX2 ggml_v_expf computes each lane (ARM optimized
// routine, max error ~1.5 ulp); same bits on every ISA (explicit fused multiply-adds).
float GgmlVecExp(float x);
// y[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)), with exp as llama.cpp's AVX2
// build takes it (ggml_vec_silu_f32): GgmlVecExp for i < n & ~7, the C library's expf for the
// rest. y may alias either input.
void SwiGlu(const float* gate, const float* up, float* y, int64_t n);
// y[i] = a[i] + b[i]. y may alias either input.
void Add(const float* a, const float* b, float* y, int64_t n);

// Dequantizes row `row` of a [rows][cols] matrix in `type` (row_bytes apart) into out[cols]:
// the embedding lookup. InvalidArgument for an unsupported type or a row out of range.
Status GetRow(TensorType type, const void* data, int64_t rows, int64_t cols, int64_t row_bytes,
              int64_t row, float* out);

}  // namespace swarmkv
