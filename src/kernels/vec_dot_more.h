// Dot kernels of the weight types added in issue 18 (Q4_1, Q5_1 x Q8_1; IQ4_NL, MXFP4 x Q8_0;
// Q2_K, Q3_K, IQ4_XS x Q8_K): their per-ISA tables, picked by GetVecDotKernel (vec_dot.h).
//
// The one numeric order (docs/kernels.md), spelled out by the scalar twins in
// vec_dot_more_scalar.cc, which the AVX2 and AVX-512 kernels reproduce bit for bit. Per block
// the integer part is exact (any exact integer method gives the same integers); the float part:
//   Q4_1 / Q5_1: 8 lanes (lane l: elements 4l..4l+3), acc[l] = fma(dw*dx, sum_l, acc[l]);
//     the offset term m = fma(mw, sx, m) per block; result HsumLanes8(acc) + m.
//   IQ4_NL / MXFP4: as Q8_0 but even blocks in acc1, odd blocks in acc2 (ggml-cpu's AVX2 pair
//     loop); HsumLanes8(acc1 + acc2), then a last odd block's whole sum fused: fma(d, sum, s).
//   Q2_K: per 256-block the 8 min lanes fused first, acc[l] = fma(-dx*dmin, mins_l, acc[l]),
//     then the 8 scaled lanes, acc[l] = fma(dx*dw, sum_l, acc[l]); HsumLanes8(acc).
//   Q3_K / IQ4_XS: 8 scaled lanes per 256-block, one fma per lane; HsumLanes8(acc).
// (These are ggml-cpu's AVX2 orders, so llama.cpp's AVX2 build computes the same floats.)
//
// Thread-safety: constant tables of pure functions.
#pragma once

#include "gguf/tensor_type.h"
#include "kernels/cpu_features.h"
#include "kernels/vec_dot.h"

namespace swarmkv::internal {

struct VecDotTableMore {
  VecDotKernel q4_1, q5_1, q2_k, q3_k, iq4_nl, iq4_xs, mxfp4;
};
extern const VecDotTableMore kVecDotMoreScalar;
extern const VecDotTableMore kVecDotMoreAvx2;
extern const VecDotTableMore kVecDotMoreAvx512;

// Whether `weight` is one of this file's types.
bool IsMoreWeightType(TensorType weight);
// The kernel at the highest level <= isa the CPU supports that has one (same bits everywhere).
VecDotKernel GetVecDotKernelMore(TensorType weight, Isa isa);

}  // namespace swarmkv::internal
