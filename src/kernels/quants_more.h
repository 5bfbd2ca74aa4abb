// Quantizers and dequantizers of the weight types added in issue 18: reference quantizers for
// Q4_1, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4 (what `make-model --type` and
// the tests write), dequantizers for IQ4_NL, IQ4_XS, MXFP4 (the others are in quants.cc), and the
// Q8_1 activation quantizer Q4_1 / Q5_1 weights are multiplied with.
//
// Invariant: every block is in ggml's layout (quant_blocks.h, quant_blocks_more.h), so the files
// load in llama.cpp and DequantizeRow gives ggml's dequantize_row_* values. The reference
// quantizers are simple and deterministic (scales from the block's range, round to nearest) —
// NOT llama.cpp's iterative searches, so their bytes differ from llama-quantize's; the tests
// bound their round-trip error. QuantizeRowQ8_1Act gives the bytes of ggml-cpu's x86
// quantize_row_q8_1: the Q8_0 activation quants (QuantizeRowQ8_0Act) and s = f16(d * sum(q)).
// REQUIRES for all: n a multiple of the type's block size.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "kernels/quant_blocks.h"
#include "kernels/quant_blocks_more.h"

namespace swarmkv {

void QuantizeQ4_1Ref(const float* x, BlockQ4_1* y, int64_t n);
void QuantizeQ5_1Ref(const float* x, BlockQ5_1* y, int64_t n);
void QuantizeQ2_KRef(const float* x, BlockQ2_K* y, int64_t n);
void QuantizeQ3_KRef(const float* x, BlockQ3_K* y, int64_t n);
void QuantizeQ4_KRef(const float* x, BlockQ4_K* y, int64_t n);
void QuantizeQ5_KRef(const float* x, BlockQ5_K* y, int64_t n);
void QuantizeQ6_KRef(const float* x, BlockQ6_K* y, int64_t n);
void QuantizeIQ4_NLRef(const float* x, BlockIQ4_NL* y, int64_t n);
void QuantizeIQ4_XSRef(const float* x, BlockIQ4_XS* y, int64_t n);
void QuantizeMXFP4Ref(const float* x, BlockMXFP4* y, int64_t n);

void DequantizeIQ4_NL(const BlockIQ4_NL* x, float* y, int64_t n);
void DequantizeIQ4_XS(const BlockIQ4_XS* x, float* y, int64_t n);
void DequantizeMXFP4(const BlockMXFP4* x, float* y, int64_t n);
// Q8_1 activations back to floats (d * q; s is not needed for that).
void DequantizeQ8_1(const BlockQ8_1* x, float* y, int64_t n);

void QuantizeRowQ8_1Act(const float* x, BlockQ8_1* y, int64_t n);

}  // namespace swarmkv
