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

// The bits K/V come out with depend on the kernels that computed them: float sums on different
// ISAs differ in the last bit. This id (the active ISA and a version bumped whenever any kernel
// changes its output bits) goes into the KV namespace, so KV is shared — through RAM, disk or a
// Redis used by several machines — only between processes whose kernels give identical bits.
inline constexpr uint32_t kKernelNumericsVersion = 2;  // 2: float dots and SiLU in ggml's AVX2 order
inline uint32_t KernelNumericsId() { return (kKernelNumericsVersion << 8) | static_cast<uint32_t>(ActiveIsa()); }
// Every level this CPU supports, lowest first (for tests that compare each to scalar).
std::vector<Isa> SupportedIsas();

}  // namespace swarmkv
