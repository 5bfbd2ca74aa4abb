// Mamba-2 kernels (kernels/ssm.h): dispatch, shape checks and the scalar twins that spell the
// numeric order. Compiled with -ffp-contract=off: every fused multiply-add is an explicit
// std::fma, nothing else may be fused.
#include "kernels/ssm.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/causal_conv.h"
#include "kernels/ops.h"
#include "kernels/swiglu_avx2.h"

namespace swarmkv {
namespace internal {

float SsmScanRowScalar(float* s, const float* B, const float* C, float dA, float x_dt, int64_t n) {
  // ggml's AVX2 GGML_F32_VEC loop: acc[k][l] holds elements 32m + 8k + l.
  float acc[4][8] = {};
  const int64_t np = n & ~int64_t{31};
  for (int64_t i = 0; i < np; i += 32) {
    for (int k = 0; k < 4; ++k) {
      for (int l = 0; l < 8; ++l) {
        const int64_t j = i + 8 * k + l;
        const float st = std::fma(s[j], dA, B[j] * x_dt);
        acc[k][l] = std::fma(st, C[j], acc[k][l]);
        s[j] = st;
      }
    }
  }
  // GGML_F32x8_REDUCE: (a0 + a2) + (a1 + a3), then the 128-bit halves, then two hadds.
  float v[8];
  for (int l = 0; l < 8; ++l) v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
  float t[4];
  for (int l = 0; l < 4; ++l) t[l] = v[l] + v[l + 4];
  float sum = (t[0] + t[1]) + (t[2] + t[3]);
  for (int64_t j = np; j < n; ++j) {
    const float st = std::fma(s[j], dA, B[j] * x_dt);
    sum = std::fma(st, C[j], sum);
    s[j] = st;
  }
  return sum;
}

}  // namespace internal

namespace {

using ScanRowFn = float (*)(float*, const float*, const float*, float, float, int64_t);

ScanRowFn ScanRow(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return internal::SsmScanRowAvx512;
    case Isa::kAvx2: return internal::SsmScanRowAvx2;
    default: return internal::SsmScanRowScalar;
  }
}

Isa Checked(Isa isa) { return IsaSupported(isa) ? isa : BestIsa(); }

}  // namespace

Status SsmConv1d(const SsmConvArgs& a, const float* x, int64_t x_stride, int64_t T, float* state, float* y,
                 int64_t y_stride) {
  if (a.channels <= 0 || a.kernel < 1 || a.kernel > 64 || a.weight == nullptr || T < 0 || x_stride < a.channels ||
      y_stride < a.channels || (a.kernel > 1 && state == nullptr))
    return InvalidArgumentError("SsmConv1d: bad arguments (channels " + std::to_string(a.channels) + ", kernel " +
                                std::to_string(a.kernel) + ", T " + std::to_string(T) + ")");
  if (T == 0) return Status::OK();
  const int64_t C = a.channels;
  const int k = a.kernel;
  const int h = k - 1;  // rows of history
  // The one conv kernel (kernels/causal_conv.h) over the window [old state; x] (packed into xe)
  // with the taps transposed to wt[j][c]; then + bias, as ggml adds it after ggml_ssm_conv.
  thread_local std::vector<float> wt, xe;
  wt.resize(static_cast<size_t>(k) * C);
  for (int64_t c = 0; c < C; ++c)
    for (int j = 0; j < k; ++j) wt[static_cast<size_t>(j) * C + c] = a.weight[c * k + j];
  xe.resize(static_cast<size_t>(h + T) * C);
  std::copy(state, state + static_cast<size_t>(h) * C, xe.begin());
  for (int64_t t = 0; t < T; ++t) std::copy(x + t * x_stride, x + t * x_stride + C, xe.begin() + (h + t) * C);
  CausalConvArgs cv;
  cv.xe = xe.data();
  cv.xe_stride = C;
  cv.w = wt.data();
  cv.taps = k;
  cv.channels = C;
  cv.n = T;
  cv.y = y;
  cv.y_stride = y_stride;
  CausalConv(cv, 0, T, Checked(a.isa));
  if (a.bias != nullptr) {
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < C; ++c) y[t * y_stride + c] = y[t * y_stride + c] + a.bias[c];
  }
  // The new state: the last k - 1 rows of the window.
  std::copy(xe.begin() + T * C, xe.begin() + (T + h) * C, state);
  return Status::OK();
}

void Silu(const float* x, float* y, int64_t n, Isa isa) {
  // ggml_vec_silu_f32 (AVX2+FMA build): whole groups of 8 through ggml_v_silu, the rest through
  // libm. The 8-lane path is SwiGLU's with up = 1 (multiplying by 1 is exact).
  const int64_t nv = n & ~int64_t{7};
  int64_t i0 = 0;
  if (Checked(isa) >= Isa::kAvx2) {
    static const std::vector<float> kOnes(256, 1.0f);
    for (; i0 < nv; i0 += 256) internal::SwiGluVecAvx2(x + i0, kOnes.data(), y + i0, std::min<int64_t>(256, nv - i0));
    i0 = nv;
  }
  for (int64_t i = i0; i < nv; ++i) y[i] = x[i] / (1.0f + GgmlVecExp(0.0f - x[i]));
  for (int64_t i = nv; i < n; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}

float Softplus(float x) { return x > 20.0f ? x : std::log(1.0f + std::exp(x)); }

Status SsmScan(const SsmScanArgs& a, const float* x, int64_t x_stride, const float* dt, int64_t dt_stride,
               const float* B, const float* C, int64_t bc_stride, int64_t T, float* state, float* y,
               int64_t y_stride) {
  const int64_t inner = a.n_head * a.head_dim;
  if (a.n_head <= 0 || a.head_dim <= 0 || a.d_state <= 0 || a.n_group <= 0 || a.n_head % a.n_group != 0 ||
      a.A == nullptr || T < 0 || x_stride < inner || dt_stride < a.n_head || bc_stride < a.n_group * a.d_state ||
      y_stride < inner || state == nullptr)
    return InvalidArgumentError("SsmScan: bad arguments (heads " + std::to_string(a.n_head) + ", head_dim " +
                                std::to_string(a.head_dim) + ", d_state " + std::to_string(a.d_state) + ", groups " +
                                std::to_string(a.n_group) + ", T " + std::to_string(T) + ")");
  if (T == 0) return Status::OK();
  const ScanRowFn scan_row = ScanRow(Checked(a.isa));
  const int64_t heads_per_group = a.n_head / a.n_group;
  // One task per head over all tokens: heads never read each other's state.
  auto head_task = [&](int64_t h) {
    const int64_t g = h / heads_per_group;
    float* sh = state + h * a.head_dim * a.d_state;
    for (int64_t t = 0; t < T; ++t) {
      const float dt_raw = dt[t * dt_stride + h];
      const float dt_sp = Softplus(a.dt_bias != nullptr ? dt_raw + a.dt_bias[h] : dt_raw);
      const float dA = std::exp(dt_sp * a.A[h]);
      const float* xt = x + t * x_stride + h * a.head_dim;
      const float* Bt = B + t * bc_stride + g * a.d_state;
      const float* Ct = C + t * bc_stride + g * a.d_state;
      float* yt = y + t * y_stride + h * a.head_dim;
      for (int64_t i = 0; i < a.head_dim; ++i) {
        const float sum = scan_row(sh + i * a.d_state, Bt, Ct, dA, xt[i] * dt_sp, a.d_state);
        yt[i] = a.D != nullptr ? sum + xt[i] * a.D[h] : sum;
      }
    }
  };
  if (a.pool != nullptr && a.n_head > 1) {
    a.pool->ParallelFor(a.n_head, [&](int64_t h, int) { head_task(h); });
  } else {
    for (int64_t h = 0; h < a.n_head; ++h) head_task(h);
  }
  return Status::OK();
}

void GatedGroupRmsNorm(const float* z, float* y, const float* weight, int64_t head_dim, int64_t n, int64_t n_group,
                       float eps) {
  for (int64_t i = 0; i < n; i += head_dim) SwiGlu(z + i, y + i, y + i, std::min(head_dim, n - i));
  const int64_t gs = n / n_group;
  for (int64_t g = 0; g < n_group; ++g) RmsNorm(y + g * gs, weight != nullptr ? weight + g * gs : nullptr, y + g * gs, gs, eps);
}

}  // namespace swarmkv
