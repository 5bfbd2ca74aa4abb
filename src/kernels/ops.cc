#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu_features.h"
#include "kernels/quants.h"
#include "kernels/swiglu_avx2.h"

namespace swarmkv {
namespace {

float YarnCorrDim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return n_dims * std::log(n_ctx_orig / (n_rot * 2 * static_cast<float>(M_PI))) / (2 * std::log(base));
}

float YarnRamp(float low, float high, int i0) {
  const float y = (i0 / 2 - low) / std::max(0.001f, high - low);
  return 1 - std::min(1.0f, std::max(0.0f, y));
}

}  // namespace

void RmsNorm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (weight != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * weight[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void ApplyRope(const RopeParams& p, int64_t pos, float* x, int64_t head_dim, int64_t n_heads) {
  const int n_dims = p.n_dims;
  const float theta_scale = std::pow(p.freq_base, -2.0f / n_dims);
  float corr0 = 0, corr1 = 0;
  if (p.ext_factor != 0.0f) {
    const float start = std::floor(YarnCorrDim(n_dims, p.n_ctx_orig, p.beta_fast, p.freq_base));
    const float end = std::ceil(YarnCorrDim(n_dims, p.n_ctx_orig, p.beta_slow, p.freq_base));
    corr0 = std::max(0.0f, start);
    corr1 = std::min(static_cast<float>(n_dims - 1), end);
  }
  // cos/sin per pair, computed as ggml_rope_cache_init does (theta multiplied step by step).
  float cs[2 * 512];
  float* cache = n_dims <= 1024 ? cs : new float[n_dims];
  float theta = static_cast<float>(pos);
  for (int i0 = 0; i0 < n_dims; i0 += 2) {
    const float ff = p.freq_factors != nullptr ? p.freq_factors[i0 / 2] : 1.0f;
    const float theta_extrap = theta / ff;
    const float theta_interp = p.freq_scale * theta_extrap;
    float th = theta_interp;
    float mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
      const float ramp_mix = YarnRamp(corr0, corr1, i0) * p.ext_factor;
      th = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
      mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
    }
    cache[i0] = std::cos(th) * mscale;
    cache[i0 + 1] = std::sin(th) * mscale;
    theta *= theta_scale;
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int i0 = 0; i0 < n_dims; i0 += 2) {
      const float c = cache[i0], s = cache[i0 + 1];
      const int a = p.neox ? i0 / 2 : i0;
      const int b = p.neox ? i0 / 2 + n_dims / 2 : i0 + 1;
      const float x0 = v[a], x1 = v[b];
      // ggml-cpu is built with FMA and GCC contracts `x0*c - x1*s` / `x0*s + x1*c` into one
      // fused multiply-add each (checked bit for bit against llama.cpp's ROPE output); the
      // explicit std::fma gives those bits on every ISA.
      v[a] = std::fma(x0, c, -(x1 * s));
      v[b] = std::fma(x0, s, x1 * c);
    }
  }
  if (cache != cs) delete[] cache;
}

void Softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = std::exp(x[i] - max);
    x[i] = v;
    sum += static_cast<double>(v);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float GgmlVecExp(float x) {
  // Range reduction x = n ln2 + b (n rounded via the 1.5 * 2^23 trick, ln2 in two parts), a
  // degree-5 polynomial j ~ exp(b) - 1 (its linear term a plain product), then k = 2^n built
  // from z's low bits and exp = fma(j, k, k). Lanes with |n| > 126 scale in two steps (s1, s2)
  // and |n| > 192 saturates to s1 * s1 (0 or inf), as ggml's AVX2 ggml_v_expf selects per lane.
  const float shift = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, shift);
  const float n = z - shift;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const uint32_t e = FloatBits(z) << 23;
  const float k = BitsFloat(e + FloatBits(1.0f));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, 0x1.ffffecp-1f * b);
  if (!(std::fabs(n) > 126.0f)) return std::fma(j, k, k);
  const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = BitsFloat(g + 0x7f000000u);
  const float s2 = BitsFloat(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return std::fma(s2, j, s2) * s1;
}

void SwiGlu(const float* gate, const float* up, float* y, int64_t n) {
  // ggml_vec_silu_f32 of an AVX2+FMA build, then ggml_mul by up: whole groups of 8 through
  // the vector exp, the rest through the C library's expf.
  const int64_t nv = n & ~int64_t{7};
  int64_t i0 = 0;
  if (ActiveIsa() >= Isa::kAvx2) {  // same bits, 8 lanes at a time
    internal::SwiGluVecAvx2(gate, up, y, nv);
    i0 = nv;
  }
  for (int64_t i = i0; i < nv; ++i) {
    const float g = gate[i];
    y[i] = (g / (1.0f + GgmlVecExp(0.0f - g))) * up[i];
  }
  for (int64_t i = nv; i < n; ++i) {
    const float g = gate[i];
    y[i] = (g / (1.0f + std::exp(-g))) * up[i];
  }
}

void Add(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

Status GetRow(TensorType type, const void* data, int64_t rows, int64_t cols, int64_t row_bytes,
              int64_t row, float* out) {
  if (row < 0 || row >= rows) {
    return InvalidArgumentError("GetRow: row " + std::to_string(row) + " out of range [0, " +
                                std::to_string(rows) + ")");
  }
  const int64_t rb = row_bytes == 0 ? RowBytes(type, cols) : row_bytes;
  return DequantizeRow(type, static_cast<const uint8_t*>(data) + row * rb, out, cols);
}

}  // namespace swarmkv
