// expf eight floats at a time with exactly the bits of glibc's expf on an x86-64 CPU with FMA.
//
// Invariant: ExpfAvx2(x)[i] == std::exp(x[i]) bit for bit, for every float (NaN payloads,
// infinities, zeros and denormals included), where std::exp is glibc's `__expf_fma` — the
// variant glibc's ifunc picks on every CPU that runs our AVX2 kernels (Isa::kAvx2 needs FMA).
// That lets a SIMD kernel replace a loop of libm calls without changing one output bit, so
// llama.cpp-order attention (attention_llama.h) keeps matching llama.cpp's per-key libm expf.
//
// The algorithm is the public one glibc took from ARM's optimized-routines (e_expf.c): in
// double, k = round(x * 32/ln2) by the shift trick, r = x * 32/ln2 - k, 2^(k/32) from a
// 32-entry table of 2^(i/32) plus k/32 in the exponent, times a degree-3 polynomial in r,
// rounded once to float. expf_x8.h (the 8-lane core) fuses into FMAs exactly the operations
// GCC fused in __expf_fma (read from this machine's libm.so.6 with objdump). NOTE: an exhaustive check found
// that the float result does not depend on that choice (an all-unfused variant also matched
// all 2^32 inputs): the double intermediate leaves ~29 bits of margin before the final rounding.
//
// Thread-safety: pure functions (the table is a constant built on first use).
#pragma once

#include <cstdint>

namespace swarmkv::internal {

// y[i] = expf(x[i]) for i < n (x == y allowed). Requires AVX2 + FMA (IsaSupported(Isa::kAvx2)).
void ExpfAvx2(const float* x, float* y, int64_t n);

// 2^(i/32) for i < 32, correctly rounded to double, as the kernel builds it (for its test).
double ExpfAvx2TableEntry(int i);

}  // namespace swarmkv::internal
