// Which SIMD level the kernels run at: detected from CPUID, overridable for tests/benchmarks.
//
// Invariant: ActiveIsa() is never a level the CPU lacks. kAvx2 needs AVX2+FMA+F16C; kAvx512
// needs AVX-512 F+BW+VL+VNNI (a CPU with AVX-512 but no VNNI runs the AVX2 kernels).
// SWARMKV_KERNELS=scalar|avx2|avx512 (read once) lowers the level; asking for a level the CPU
// lacks falls back to the best supported one with a warning.
//
// Thread-safety: all functions are safe to call concurrently.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace swarmkv {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

std::string_view IsaName(Isa isa);
bool IsaSupported(Isa isa);
// The best level this CPU supports.
Isa BestIsa();
// The level kernels use by default: BestIsa() unless SWARMKV_KERNELS asks for a lower one.
Isa ActiveIsa();

// The bits K/V come out with depend on the kernels' numerics: every ISA gives the scalar twins'
// bits (one numeric order, tested bit for bit per ISA), so the id is only a version bumped
// whenever any kernel changes its output bits. It goes into the KV namespace: KV is shared —
// through RAM, disk or a Redis used by several machines — between processes of any ISA, and
// never between builds whose kernels give different bits.
inline constexpr uint32_t kKernelNumericsVersion = 4;  // 3: one order on every ISA (K-quants in
                                                       // the AVX2 lanes, AVX-512 in the twins')
                                                       // 4: one ssm_conv order (causal_conv.h):
                                                       // LFM2's 3 taps fused, Mamba-2's 4 not
inline uint32_t KernelNumericsId() { return kKernelNumericsVersion << 8; }
// Every level this CPU supports, lowest first (for tests that compare each to scalar).
std::vector<Isa> SupportedIsas();

}  // namespace swarmkv
