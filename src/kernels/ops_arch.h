// Elementwise ops that only some architectures need (gemma's GeGLU and soft-caps, the scale
// multipliers of granite/gemma/phi3), following llama.cpp's CPU formulas bit for bit.
//
// Invariant: each function maps every element on its own, so a token's result depends only on
// its own inputs (batch invariance, any ISA: no SIMD-specific arithmetic here).
//
// Thread-safety: pure functions over caller-owned buffers (GeluF16Table is built once, under
// the C++ static-initialisation lock).
#pragma once

#include <cstdint>

namespace swarmkv {

// y[i] = gelu(gate[i]) * up[i] as ggml_vec_geglu_f32 with GGML_GELU_FP16 (the CPU default):
// gate <= -10 -> 0, gate >= 10 -> gate * up, otherwise gelu is looked up for gate rounded to f16
// in a table of f16(0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2)))). y may alias either input.
void GeGlu(const float* gate, const float* up, float* y, int64_t n);

// x[i] = cap * tanhf(x[i] * (1 / cap)) — ggml_scale, ggml_tanh, ggml_scale (final logit soft-cap).
void SoftCap(float* x, int64_t n, float cap);

// gpt-oss's clamped SwiGLU (ggml_swiglu_oai, llama.cpp's LLM_FFN_SWIGLU_OAI_MOE): per element,
// g = min(gate, limit), u = clamp(up, -limit, limit), y = (g / (1 + expf(alpha * -g))) * (u + 1),
// in that order (libm expf; nothing fused). gpt-oss: alpha 1.702, limit 7. y may alias either
// input. One scalar implementation serves every ISA, so the bits are the same everywhere.
void SwiGluOai(const float* gate, const float* up, float* y, int64_t n, float alpha, float limit);

// x[i] *= s (ggml_scale).
void Scale(float* x, int64_t n, float s);

}  // namespace swarmkv
