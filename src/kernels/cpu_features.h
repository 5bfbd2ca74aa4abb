// Which SIMD level the kernels run at: detected from CPUID, overridable for tests/benchmarks.
//
// Invariant: ActiveIsa() is never a level the CPU lacks. kAvx2 needs AVX2+FMA+F16C; kAvx512
// needs AVX-512 F+BW+VL+VNNI (a CPU with AVX-512 but no VNNI runs the AVX2 kernels).
// SWARMKV_KERNELS=scalar|avx2|avx512 (read once) lowers the level; asking for a level the CPU
// lacks falls back to the best supported one with a warning.
//
// Thread-safety: all functions are safe to call concurrently.
#pragma once

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
// Every level this CPU supports, lowest first (for tests that compare each to scalar).
std::vector<Isa> SupportedIsas();

}  // namespace swarmkv
