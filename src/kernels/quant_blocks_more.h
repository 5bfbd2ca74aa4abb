// ggml's block formats of the weight types added in issue 18 (IQ4_NL, IQ4_XS, MXFP4) and the
// Q8_1 activation block that Q4_1 / Q5_1 weights are multiplied with, byte for byte.
//
// Invariant: sizeof each struct equals ggml's type_size (static_asserts below); fields are in
// ggml's order. The value tables are ggml's code books (IQ4_NL's non-linear levels; MXFP4's
// E2M1 values doubled, so that with E8M0ToF32Half the product is the MXFP4 value).
//
// Thread-safety: plain data and pure inline functions (static: safe in SIMD translation units).
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/quant_blocks.h"

namespace swarmkv {

inline constexpr int kQK8_1 = 32;
inline constexpr int kQK4_NL = 32;
inline constexpr int kQKMxfp4 = 32;

// The activation format of Q4_1 / Q5_1 weights: Q8_0 plus s = d * sum(qs) (in f16).
struct BlockQ8_1 {
  f16_t d;
  f16_t s;
  int8_t qs[kQK8_1];
};
// 32 elements, 4-bit indices into kIq4NlValues, one f16 scale.
struct BlockIQ4_NL {
  f16_t d;
  uint8_t qs[kQK4_NL / 2];  // element j low nibble of qs[j], element j+16 high nibble
};
// 256 elements: 8 sub-blocks of 32 with a 6-bit scale each (ls - 32), indices as IQ4_NL.
struct BlockIQ4_XS {
  f16_t d;
  uint16_t scales_h;           // bits 2ib..2ib+1: the high 2 bits of sub-block ib's scale
  uint8_t scales_l[kQK_K / 64];  // nibble ib%2 of byte ib/2: the low 4 bits
  uint8_t qs[kQK_K / 2];       // per sub-block 16 bytes, nibbles as IQ4_NL
};
// 32 elements, 4-bit E2M1 values, one E8M0 (power of two) scale.
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[kQKMxfp4 / 2];  // nibbles as IQ4_NL
};

static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockMXFP4) == 17);

alignas(16) static constexpr int8_t kIq4NlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                        1,    13,   25,  38,  53,  69,  89,  113};
alignas(16) static constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// An E8M0 exponent e as 2^(e - 128): half the MXFP4 scale, matching the doubled value table.
static inline float E8M0ToF32Half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// The 6-bit scale (0..63; the weight uses ls - 32) of IQ4_XS sub-block ib.
static inline int Iq4XsScale(const BlockIQ4_XS& b, int ib) {
  return ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
}

// The 16 6-bit scales of a Q3_K block (stored value; the weight uses scale - 32): scale i has
// its low 4 bits in nibble i/8 of byte i%8 and its high 2 bits at 2*(i/4) of byte 8 + i%4.
// Four bytes at a time: word j of the result is scales 4j..4j+3.
static inline void UnpackQ3KScales(const uint8_t packed[12], int8_t out[16]) {
  uint32_t w[3], r[4];
  std::memcpy(w, packed, 12);
  const uint32_t low4 = 0x0F0F0F0Fu, high2 = 0x03030303u;
  r[0] = (w[0] & low4) | ((w[2] & high2) << 4);
  r[1] = (w[1] & low4) | (((w[2] >> 2) & high2) << 4);
  r[2] = ((w[0] >> 4) & low4) | (((w[2] >> 4) & high2) << 4);
  r[3] = ((w[1] >> 4) & low4) | (((w[2] >> 6) & high2) << 4);
  std::memcpy(out, r, 16);
}

}  // namespace swarmkv
