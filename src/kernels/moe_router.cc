#include "kernels/moe_router.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/ops.h"

namespace swarmkv {

void GgmlSoftmaxAvx2Order(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0.0;
  int64_t i = 0;
  for (; i + 7 < n; i += 8) {
    float v[8];
    for (int j = 0; j < 8; ++j) v[j] = x[i + j] = GgmlVecExp(x[i + j] - max);
    // _mm256 hi + lo, then movehl, then movehdup: ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)).
    const float a0 = v[0] + v[4], a1 = v[1] + v[5], a2 = v[2] + v[6], a3 = v[3] + v[7];
    sum += static_cast<double>((a0 + a2) + (a1 + a3));
  }
  for (; i < n; ++i) {
    const float v = std::exp(x[i] - max);
    x[i] = v;
    sum += static_cast<double>(v);
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) x[j] *= inv;
}

void MoeRoute(const MoeRouting& r, const float* logits, float* probs, int32_t* ids, float* weights) {
  std::copy(logits, logits + r.n_expert, probs);
  if (!r.softmax_weight) GgmlSoftmaxAvx2Order(probs, r.n_expert);
  // Top k: descending probability, ties by the lower index (a strict total order, so the
  // partial sort's result is unique; a NaN ranks as -inf, below every number).
  int32_t order[512];
  const int32_t n = std::min<int32_t>(r.n_expert, 512);
  std::iota(order, order + n, 0);
  auto key = [&](int32_t e) { return std::isnan(probs[e]) ? -INFINITY : probs[e]; };
  std::partial_sort(order, order + r.n_used, order + n, [&](int32_t a, int32_t b) {
    const float ka = key(a), kb = key(b);
    return ka > kb || (ka == kb && a < b);
  });
  for (int32_t k = 0; k < r.n_used; ++k) {
    ids[k] = order[k];
    weights[k] = probs[order[k]];
  }
  if (r.softmax_weight) GgmlSoftmaxAvx2Order(weights, r.n_used);
  if (r.normalize) {
    double sum = 0.0;  // ggml_vec_sum_f32: front to back in double, rounded to float
    for (int32_t k = 0; k < r.n_used; ++k) sum += static_cast<double>(weights[k]);
    const float s = std::max(static_cast<float>(sum), 6.103515625e-5f);
    for (int32_t k = 0; k < r.n_used; ++k) weights[k] /= s;
  }
  if (r.weights_scale != 0.0f && r.weights_scale != 1.0f)
    for (int32_t k = 0; k < r.n_used; ++k) weights[k] *= r.weights_scale;
}

}  // namespace swarmkv
