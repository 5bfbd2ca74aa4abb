#include "kernels/convert.h"

#include "kernels/cpu_features.h"

namespace swarmkv {

void F16ToF32Row(const f16_t* x, float* y, int64_t n) {
  if (ActiveIsa() >= Isa::kAvx2) return internal::F16ToF32RowF16C(x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = F16ToF32(x[i]);
}

void F32ToF16Row(const float* x, f16_t* y, int64_t n) {
  if (ActiveIsa() >= Isa::kAvx2) return internal::F32ToF16RowF16C(x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = F32ToF16(x[i]);
}

// bf16 conversions are a shift / an integer rounding the compiler vectorizes well.
void BF16ToF32Row(const bf16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = BF16ToF32(x[i]);
}

void F32ToBF16Row(const float* x, bf16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = F32ToBF16(x[i]);
}

}  // namespace swarmkv
