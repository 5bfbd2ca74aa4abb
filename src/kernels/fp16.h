// Scalar IEEE half (f16) and bfloat16 (bf16) <-> float conversion, bit-exact with ggml.
//
// Invariant: float -> f16 and float -> bf16 round to nearest, ties to even (what F16C's
// _cvtss_sh(x, 0) and ggml's reference do); NaN stays NaN. f16/bf16 -> float is exact.
// Row converters (which use F16C / AVX-512 when the CPU has them) live in kernels/convert.h.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <cstring>

namespace swarmkv {

using f16_t = uint16_t;   // IEEE binary16 bits
using bf16_t = uint16_t;  // bfloat16 bits

static inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static inline float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

static inline float F16ToF32(f16_t h) {
  // Exact: scale the shifted bits by 2^-112 so subnormals and the exponent bias come out right.
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  const float exp_scale = BitsFloat(0x7800000u);  // 2^-112
  const float normalized = BitsFloat((two_w >> 4) + (0xE0u << 23)) * exp_scale;
  const float denormalized = BitsFloat((two_w >> 17) | (126u << 23)) - 0.5f;
  const uint32_t result =
      sign | (two_w < (1u << 27) ? FloatBits(denormalized) : FloatBits(normalized));
  return BitsFloat(result);
}

static inline f16_t F32ToF16(float f) {
  // Round to nearest even via float arithmetic (the FP16 library's method, as ggml's reference).
  const float scale_to_inf = BitsFloat(0x77800000u);   // 2^112
  const float scale_to_zero = BitsFloat(0x08800000u);  // 2^-110
  float base = (f < 0 ? -f : f) * scale_to_inf;
  base *= scale_to_zero;
  const uint32_t w = FloatBits(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = BitsFloat((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = FloatBits(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<f16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

static inline float BF16ToF32(bf16_t h) { return BitsFloat(static_cast<uint32_t>(h) << 16); }

static inline bf16_t F32ToBF16(float f) {
  uint32_t u = FloatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<bf16_t>((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

}  // namespace swarmkv
