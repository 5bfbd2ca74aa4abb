#include "kernels/vec_dot.h"

#include <cstring>

#include "kernels/convert.h"
#include "kernels/quants.h"
#include "kernels/quants_more.h"
#include "kernels/vec_dot_more.h"

namespace swarmkv {

bool IsMatmulWeightType(TensorType weight) {
  return GetVecDot(weight, Isa::kScalar) != nullptr;
}

TensorType VecDotType(TensorType weight) {
  switch (weight) {
    case TensorType::kF16: return TensorType::kF16;
    case TensorType::kBF16: return TensorType::kBF16;
    case TensorType::kQ8_0:
    case TensorType::kQ4_0: return TensorType::kQ8_0;
    case TensorType::kQ5_0: return TensorType::kQ8_0;
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K: return TensorType::kQ8_K;
    case TensorType::kQ4_1:  // issue 18's types (vec_dot_more.h): ggml-cpu's vec_dot_type
    case TensorType::kQ5_1: return TensorType::kQ8_1;
    case TensorType::kIQ4_NL:
    case TensorType::kMXFP4: return TensorType::kQ8_0;
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kIQ4_XS: return TensorType::kQ8_K;
    default: return TensorType::kF32;
  }
}

void ConvertActivationRow(TensorType vec_dot_type, const float* x, void* dst, int64_t n) {
  switch (vec_dot_type) {
    case TensorType::kF16: {
      F32ToF16Row(x, static_cast<f16_t*>(dst), n);
      break;
    }
    case TensorType::kBF16: {
      auto* y = static_cast<bf16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = F32ToBF16(x[i]);
      break;
    }
    case TensorType::kQ8_0: QuantizeRowQ8_0Act(x, static_cast<BlockQ8_0*>(dst), n); break;
    case TensorType::kQ8_K: QuantizeRowQ8_K(x, static_cast<BlockQ8_K*>(dst), n); break;
    case TensorType::kQ8_1: QuantizeRowQ8_1Act(x, static_cast<BlockQ8_1*>(dst), n); break;
    default: std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float)); break;
  }
}

static VecDotKernel Pick(const internal::VecDotTable& t, TensorType weight) {
  switch (weight) {
    case TensorType::kF32: return t.f32;
    case TensorType::kF16: return t.f16;
    case TensorType::kBF16: return t.bf16;
    case TensorType::kQ8_0: return t.q8_0;
    case TensorType::kQ4_0: return t.q4_0;
    case TensorType::kQ5_0: return t.q5_0;
    case TensorType::kQ4_K: return t.q4_k;
    case TensorType::kQ5_K: return t.q5_k;
    case TensorType::kQ6_K: return t.q6_k;
    default: return VecDotKernel{};
  }
}

VecDotKernel GetVecDotKernel(TensorType weight, Isa isa) {
  if (internal::IsMoreWeightType(weight)) return internal::GetVecDotKernelMore(weight, isa);
  VecDotKernel k;
  if (isa == Isa::kAvx512 && IsaSupported(Isa::kAvx512)) k = Pick(internal::kVecDotAvx512, weight);
  if (k.one == nullptr && isa >= Isa::kAvx2 && IsaSupported(Isa::kAvx2)) {
    k = Pick(internal::kVecDotAvx2, weight);
  }
  if (k.one == nullptr) k = Pick(internal::kVecDotScalar, weight);
  return k;
}

VecDotFn GetVecDot(TensorType weight, Isa isa) { return GetVecDotKernel(weight, isa).one; }

}  // namespace swarmkv
