#include "engine/short_conv_layer.h"

#include <cstring>

#include "kernels/causal_conv.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

std::string Num(int64_t v) { return std::to_string(v); }

WeightMatrix RowsOf(const WeightMatrix& w, int64_t first, int64_t n) {
  WeightMatrix r = w;
  const int64_t rb = w.row_bytes != 0 ? w.row_bytes : RowBytes(w.type, w.cols);
  r.data = static_cast<const uint8_t*>(w.data) + first * rb;
  r.rows = n;
  r.row_bytes = rb;
  return r;
}

}  // namespace

Result<std::unique_ptr<ShortConvLayer>> ShortConvLayer::Create(const ShortConvWeights& w, int64_t n_embd,
                                                               int32_t l_cache) {
  if (n_embd <= 0) return InvalidArgumentError("shortconv: n_embd must be > 0");
  if (l_cache < 2 || l_cache > 64)
    return InvalidArgumentError("shortconv: shortconv.l_cache must be in 2..64, got " + Num(l_cache));
  if (w.in_proj.data == nullptr || w.in_proj.rows != 3 * n_embd || w.in_proj.cols != n_embd)
    return InvalidArgumentError("shortconv: in_proj must be [" + Num(3 * n_embd) + " x " + Num(n_embd) + "], got [" +
                                Num(w.in_proj.rows) + " x " + Num(w.in_proj.cols) + "]");
  if (w.out_proj.data == nullptr || w.out_proj.rows != n_embd || w.out_proj.cols != n_embd)
    return InvalidArgumentError("shortconv: out_proj must be [" + Num(n_embd) + " x " + Num(n_embd) + "]");
  if (w.conv == nullptr) return InvalidArgumentError("shortconv: conv weights missing");
  return std::unique_ptr<ShortConvLayer>(new ShortConvLayer(w, n_embd, l_cache));
}

ShortConvLayer::ShortConvLayer(const ShortConvWeights& w, int64_t n_embd, int32_t l_cache)
    : n_embd_(n_embd), l_cache_(l_cache) {
  wb_ = RowsOf(w.in_proj, 0, n_embd);
  wc_ = RowsOf(w.in_proj, n_embd, n_embd);
  wx_ = RowsOf(w.in_proj, 2 * n_embd, n_embd);
  out_proj_ = w.out_proj;
  taps_.resize(static_cast<size_t>(l_cache) * n_embd);
  for (int64_t c = 0; c < n_embd; ++c)
    for (int32_t k = 0; k < l_cache; ++k) taps_[k * n_embd + c] = w.conv[c * l_cache + k];
}

Status ShortConvLayer::Forward(const RecurrentContext& ctx, const float* xn, int64_t T,
                               std::span<const RecurrentSpan> spans, float* out) {
  const int64_t e = n_embd_;
  const int64_t hist = l_cache_ - 1;
  const MatmulOptions mo{ctx.isa, ctx.pool};
  b_.resize(T * e);
  c_.resize(T * e);
  x_.resize(T * e);
  y_.resize(T * e);
  SKV_RETURN_IF_ERROR(act_.Prepare(VecDotType(wb_.type), xn, T, e, e, ctx.pool));
  const MatmulJob jobs[3] = {{&wb_, &act_, b_.data(), e}, {&wc_, &act_, c_.data(), e}, {&wx_, &act_, x_.data(), e}};
  SKV_RETURN_IF_ERROR(MatmulMany(jobs, mo));

  const size_t state_floats = static_cast<size_t>(hist * e);
  for (const RecurrentSpan& s : spans) {
    if (s.num_tokens <= 0 || s.first_row < 0 || s.first_row + s.num_tokens > T)
      return InternalError("shortconv: span rows [" + Num(s.first_row) + ", +" + Num(s.num_tokens) + ") outside " + Num(T));
    const int64_t n = s.num_tokens;
    xe_.resize(static_cast<size_t>(hist + n) * e);
    std::memcpy(xe_.data(), s.state_in, state_floats * sizeof(float));
    for (int64_t i = 0; i < n; ++i) {
      const float* b = &b_[(s.first_row + i) * e];
      const float* x = &x_[(s.first_row + i) * e];
      float* bx = &xe_[(hist + i) * e];
      for (int64_t c = 0; c < e; ++c) bx[c] = b[c] * x[c];
    }
    CausalConvArgs a;
    a.xe = xe_.data();
    a.xe_stride = e;
    a.w = taps_.data();
    a.taps = l_cache_;
    a.channels = e;
    a.n = n;
    a.gate = &c_[s.first_row * e];
    a.gate_stride = e;
    a.y = &y_[s.first_row * e];
    a.y_stride = e;
    if (ctx.pool != nullptr && n >= 8) {
      ctx.pool->ParallelFor(n, [&](int64_t t, int) { CausalConv(a, t, t + 1, ctx.isa); });
    } else {
      CausalConv(a, 0, n, ctx.isa);
    }
    // The state after token i is the bx rows of tokens i - hist + 1 .. i: xe rows i + 1 .. i + hist.
    for (const RecurrentSnapshot& snap : s.snapshots) {
      if (snap.index < 0 || snap.index >= n) return InternalError("shortconv: snapshot index outside the span");
      std::memcpy(snap.dest, &xe_[(snap.index + 1) * e], state_floats * sizeof(float));
    }
    std::memcpy(s.state_out, &xe_[n * e], state_floats * sizeof(float));
  }
  return Matmul(out_proj_, y_.data(), T, e, out, e, mo);
}

}  // namespace swarmkv
