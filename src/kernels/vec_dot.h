// Dot products of one weight row with one activation row, in llama.cpp's CPU numerics.
//
// A weight type is multiplied with activations converted to its "vec-dot type": F32 -> F32,
// F16 -> F16, BF16 -> BF16, Q8_0/Q4_0 -> Q8_0 (ggml-cpu's x86 activation quantizer),
// Q4_K/Q5_K/Q6_K -> Q8_K. Quantized dots are integer within a block, then scaled.
//
// Invariant: a VecDotFn is a pure function of (n, w row bytes, x row bytes) — same inputs,
// same bits, whatever thread or batch it runs in (the basis of batch invariance), and every
// ISA gives the scalar twin's bits (one reduction order, held in wider registers; tested bit
// for bit), so results do not depend on the CPU.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "gguf/tensor_type.h"
#include "kernels/cpu_features.h"

namespace swarmkv {

// Weight types the dot kernels handle.
bool IsMatmulWeightType(TensorType weight);
// The activation format for `weight`, e.g. Q8_K for Q4_K; kF32 for an unsupported type.
TensorType VecDotType(TensorType weight);
// Converts one float row to `vec_dot_type` (F32 copy, F16/BF16 round-to-nearest-even, Q8_0
// activation quantizer, Q8_K). REQUIRES: n a multiple of the type's block size.
void ConvertActivationRow(TensorType vec_dot_type, const float* x, void* dst, int64_t n);

// sum_i w[i] * x[i] over n elements; w in the weight type, x in its vec-dot type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);
// out[t] = sum_i w[i] * x[t][i] for t < multi_tokens: one weight row against several
// activation rows. REQUIRED to produce, for each t, exactly the bits of the paired VecDotFn
// (both are instantiations of one template), so batching tokens cannot change results.
using VecDotMultiFn = void (*)(int64_t n, const void* w, const void* const* x, float* out);

// A register tile: y[t * y_stride + r] = dot(W row r, x[t]) for r < rows, t < tokens (tokens
// at most kTileMax, rows at most max(the kernel's tile_rows, kTileMax) and never more than
// kTileRowsMax), W rows w_stride bytes apart. Same per-output bits as the paired VecDotFn.
inline constexpr int kTileMax = 4;
inline constexpr int kTileRowsMax = 8;
using VecDotTileFn = void (*)(int64_t n, const uint8_t* w, int64_t w_stride, int rows,
                              const void* const* x, int tokens, float* y, int64_t y_stride);

struct VecDotKernel {
  VecDotFn one = nullptr;
  VecDotMultiFn multi = nullptr;  // nullptr: call `one` per token
  int multi_tokens = 0;
  VecDotTileFn tile = nullptr;    // preferred over `multi` when present
  // The tile shape the matmul uses for full tiles (edges use smaller shapes; all shapes give
  // the same per-output bits, so this is a speed choice only).
  int tile_rows = kTileMax;
  int tile_tokens = kTileMax;
  // The tile reads activation rows widened to f32 (Activations::row_f32) instead of rows in
  // the vec-dot type (F16/BF16 weights only). The values are the same, so are the bits; the
  // tile just does not convert the activations again for every block of weight rows.
  bool tile_reads_f32 = false;
  // For a row block seen by at most stream_tokens tokens (decode): every row streamed once,
  // `rows` any count (the matmul passes its whole task). Same per-output bits as `one`.
  VecDotTileFn stream = nullptr;
  int stream_tokens = 0;
};

// The kernel for `weight` at `isa`, or nullptr if the type is not a matmul weight type.
VecDotFn GetVecDot(TensorType weight, Isa isa);
// The single- and multi-token kernels for `weight` at `isa` (always from the same ISA table).
VecDotKernel GetVecDotKernel(TensorType weight, Isa isa);

namespace internal {
// One ISA's kernels, indexed by weight type (`one` nullptr where the ISA has no own kernel).
struct VecDotTable {
  VecDotKernel f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k;
  VecDotKernel q5_0;
};
extern const VecDotTable kVecDotScalar;
extern const VecDotTable kVecDotAvx2;
extern const VecDotTable kVecDotAvx512;
}  // namespace internal

}  // namespace swarmkv
