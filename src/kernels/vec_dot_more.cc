#include "kernels/vec_dot_more.h"

namespace swarmkv::internal {
namespace {

VecDotKernel Pick(const VecDotTableMore& t, TensorType weight) {
  switch (weight) {
    case TensorType::kQ4_1: return t.q4_1;
    case TensorType::kQ5_1: return t.q5_1;
    case TensorType::kQ2_K: return t.q2_k;
    case TensorType::kQ3_K: return t.q3_k;
    case TensorType::kIQ4_NL: return t.iq4_nl;
    case TensorType::kIQ4_XS: return t.iq4_xs;
    case TensorType::kMXFP4: return t.mxfp4;
    default: return VecDotKernel{};
  }
}

}  // namespace

bool IsMoreWeightType(TensorType weight) { return Pick(kVecDotMoreScalar, weight).one != nullptr; }

VecDotKernel GetVecDotKernelMore(TensorType weight, Isa isa) {
  VecDotKernel k;
  if (isa == Isa::kAvx512 && IsaSupported(Isa::kAvx512)) k = Pick(kVecDotMoreAvx512, weight);
  if (k.one == nullptr && isa >= Isa::kAvx2 && IsaSupported(Isa::kAvx2)) k = Pick(kVecDotMoreAvx2, weight);
  if (k.one == nullptr) k = Pick(kVecDotMoreScalar, weight);
  return k;
}

}  // namespace swarmkv::internal
