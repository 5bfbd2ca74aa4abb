#include "kernels/cpu_features.h"

#include <cpuid.h>

#include <cstdlib>
#include <string>

#include "base/logging.h"

namespace swarmkv {

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "unknown";
}

namespace {

// F16C through CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does not know "f16c".
bool HasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & bit_F16C) != 0;
}

// CPUID once: in a virtual machine every CPUID instruction traps to the hypervisor (microseconds),
// and kernels are looked up per matmul and per attention call.
bool ComputeIsaSupported(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && HasF16c();
    case Isa::kAvx512:
      return ComputeIsaSupported(Isa::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

}  // namespace

bool IsaSupported(Isa isa) {
  static const bool supported[3] = {ComputeIsaSupported(Isa::kScalar), ComputeIsaSupported(Isa::kAvx2),
                                    ComputeIsaSupported(Isa::kAvx512)};
  const int i = static_cast<int>(isa);
  return i >= 0 && i < 3 && supported[i];
}

Isa BestIsa() {
  static const Isa best = [] {
    if (IsaSupported(Isa::kAvx512)) return Isa::kAvx512;
    if (IsaSupported(Isa::kAvx2)) return Isa::kAvx2;
    return Isa::kScalar;
  }();
  return best;
}

Isa ActiveIsa() {
  static const Isa active = [] {
    const char* env = std::getenv("SWARMKV_KERNELS");
    if (env == nullptr || *env == '\0') return BestIsa();
    const std::string want(env);
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      if (want == IsaName(isa)) {
        if (IsaSupported(isa)) return isa;
        SKV_LOG(WARN) << "SWARMKV_KERNELS=" << want << ": this CPU lacks it; using "
                      << IsaName(BestIsa());
        return BestIsa();
      }
    }
    SKV_LOG(WARN) << "SWARMKV_KERNELS=" << want << " is not scalar|avx2|avx512; using "
                  << IsaName(BestIsa());
    return BestIsa();
  }();
  return active;
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) out.push_back(isa);
  }
  return out;
}

}  // namespace swarmkv
