#include "engine/moe_ffn.h"

#include <algorithm>

#include "kernels/ops.h"
#include "kernels/quants.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

std::string Num(int64_t v) { return std::to_string(v); }

Status CheckShape(const WeightMatrix& w, int64_t rows, int64_t cols, const std::string& name) {
  if (w.data == nullptr) return InvalidArgumentError("forward: weight '" + name + "' is missing");
  if (w.rows != rows || w.cols != cols)
    return InvalidArgumentError("forward: weight '" + name + "' is [" + Num(w.rows) + " x " + Num(w.cols) +
                                "], expected [" + Num(rows) + " x " + Num(cols) + "]");
  return Status::OK();
}

Status CheckStack(const ExpertStack& s, int64_t count, int64_t rows, int64_t cols, const std::string& name) {
  SKV_RETURN_IF_ERROR(CheckShape(s.first, rows, cols, name));
  if (s.count != count) return InvalidArgumentError("forward: '" + name + "' has " + Num(s.count) + " experts, expected " + Num(count));
  const int64_t row_bytes = s.first.row_bytes != 0 ? s.first.row_bytes : RowBytes(s.first.type, cols);
  if (s.stride_bytes < rows * row_bytes)
    return InvalidArgumentError("forward: '" + name + "' experts overlap (stride " + Num(s.stride_bytes) + " bytes)");
  return Status::OK();
}

}  // namespace

Status MoeFfn::Validate(const MoeConfig& c, const MoeLayerWeights& w, int64_t n_embd, const std::string& prefix) {
  if (c.n_expert <= 0 || c.n_expert > 512 || c.n_used <= 0 || c.n_used > c.n_expert || c.n_ff_exp <= 0)
    return InvalidArgumentError("forward: MoE config out of range (experts " + Num(c.n_expert) + ", used " +
                                Num(c.n_used) + ", width " + Num(c.n_ff_exp) + ")");
  SKV_RETURN_IF_ERROR(CheckShape(w.router, c.n_expert, n_embd, prefix + "ffn_gate_inp"));
  SKV_RETURN_IF_ERROR(CheckStack(w.gate, c.n_expert, c.n_ff_exp, n_embd, prefix + "ffn_gate_exps"));
  SKV_RETURN_IF_ERROR(CheckStack(w.up, c.n_expert, c.n_ff_exp, n_embd, prefix + "ffn_up_exps"));
  SKV_RETURN_IF_ERROR(CheckStack(w.down, c.n_expert, n_embd, c.n_ff_exp, prefix + "ffn_down_exps"));
  return Status::OK();
}

Status MoeFfn::Run(const MoeConfig& c, const MoeLayerWeights& w, const float* xn, int64_t T, int64_t n_embd,
                   float* out, const MatmulOptions& mo) {
  const int64_t E = c.n_expert, k = c.n_used, ff = c.n_ff_exp;
  // Routing, per token.
  logits_.resize(T * E);
  SKV_RETURN_IF_ERROR(Matmul(w.router, xn, T, n_embd, logits_.data(), E, mo));
  probs_.resize(E);
  ids_.resize(T * k);
  weights_.resize(T * k);
  const MoeRouting routing{c.n_expert, c.n_used, c.normalize, c.weights_scale};
  for (int64_t t = 0; t < T; ++t)
    MoeRoute(routing, &logits_[t * E], probs_.data(), &ids_[t * k], &weights_[t * k]);

  // Slots grouped by expert (a counting sort; token order within an expert).
  expert_begin_.assign(E + 1, 0);
  for (int64_t s = 0; s < T * k; ++s) ++expert_begin_[ids_[s] + 1];
  for (int64_t e = 0; e < E; ++e) expert_begin_[e + 1] += expert_begin_[e];
  slots_.resize(T * k);
  {
    std::vector<int32_t> fill(expert_begin_.begin(), expert_begin_.end() - 1);
    for (int64_t s = 0; s < T * k; ++s) slots_[fill[ids_[s]]++] = static_cast<int32_t>(s);
  }

  // One matmul per selected expert and matrix over the rows routed to it.
  slot_out_.resize(T * k * n_embd);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t b = expert_begin_[e], n = expert_begin_[e + 1] - b;
    if (n == 0) continue;
    xg_.resize(n * n_embd);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = slots_[b + i] / k;
      std::copy(xn + t * n_embd, xn + (t + 1) * n_embd, &xg_[i * n_embd]);
    }
    const WeightMatrix gate = w.gate.Expert(e), up = w.up.Expert(e), down = w.down.Expert(e);
    gate_.resize(n * ff);
    up_.resize(n * ff);
    if (VecDotType(gate.type) == VecDotType(up.type)) {
      SKV_RETURN_IF_ERROR(act_.Prepare(VecDotType(gate.type), xg_.data(), n, n_embd, n_embd, mo.pool));
      const MatmulJob jobs[2] = {{&gate, &act_, gate_.data(), ff}, {&up, &act_, up_.data(), ff}};
      SKV_RETURN_IF_ERROR(MatmulMany(jobs, mo));
    } else {
      SKV_RETURN_IF_ERROR(Matmul(gate, xg_.data(), n, n_embd, gate_.data(), ff, mo));
      SKV_RETURN_IF_ERROR(Matmul(up, xg_.data(), n, n_embd, up_.data(), ff, mo));
    }
    for (int64_t i = 0; i < n; ++i) SwiGlu(&gate_[i * ff], &up_[i * ff], &gate_[i * ff], ff);
    down_.resize(n * n_embd);
    SKV_RETURN_IF_ERROR(Matmul(down, gate_.data(), n, ff, down_.data(), n_embd, mo));
    for (int64_t i = 0; i < n; ++i)
      std::copy(&down_[i * n_embd], &down_[(i + 1) * n_embd], &slot_out_[int64_t{slots_[b + i]} * n_embd]);
    expert_matmuls_ += 3;
  }

  // Weighted sum in rank order: out = ((w0 y0 + w1 y1) + w2 y2) + ... (ggml_mul, then the adds).
  for (int64_t t = 0; t < T; ++t) {
    float* o = out + t * n_embd;
    for (int64_t r = 0; r < k; ++r) {
      const float wr = weights_[t * k + r];
      const float* y = &slot_out_[(t * k + r) * n_embd];
      if (r == 0) {
        for (int64_t i = 0; i < n_embd; ++i) o[i] = y[i] * wr;
      } else {
        for (int64_t i = 0; i < n_embd; ++i) o[i] = o[i] + y[i] * wr;
      }
    }
  }
  return Status::OK();
}

}  // namespace swarmkv
