#include "engine/moe_ffn.h"

#include <algorithm>

#include "kernels/ops.h"
#include "kernels/ops_arch.h"
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
  if (w.router_bias != nullptr)
    for (int64_t t = 0; t < T; ++t) Add(&logits_[t * E], w.router_bias, &logits_[t * E], E);
  probs_.resize(E);
  ids_.resize(T * k);
  weights_.resize(T * k);
  const MoeRouting routing{c.n_expert, c.n_used, c.normalize, c.weights_scale, c.softmax_weight};
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

  // One matmul per selected expert and matrix over the rows routed to it. The rows of expert e
  // sit at [expert_begin_[e], expert_begin_[e + 1]) of every scratch matrix (slot order). Up to
  // four experts' gate and up, and eight experts' down, share one parallel region (MatmulMany:
  // the same per-row kernel calls as one Matmul each, so the same bits).
  const int64_t S = T * k;
  xg_.resize(S * n_embd);
  for (int64_t j = 0; j < S; ++j) {
    const int64_t t = slots_[j] / k;
    std::copy(xn + t * n_embd, xn + (t + 1) * n_embd, &xg_[j * n_embd]);
  }
  active_.clear();
  for (int64_t e = 0; e < E; ++e)
    if (expert_begin_[e + 1] > expert_begin_[e]) active_.push_back(static_cast<int32_t>(e));
  if (acts_.size() < active_.size()) acts_.resize(active_.size());
  gate_.resize(S * ff);
  up_.resize(S * ff);
  down_.resize(S * n_embd);
  experts_.resize(3 * active_.size());
  auto rows = [&](size_t i) {
    const int32_t e = active_[i];
    return std::pair<int64_t, int64_t>{expert_begin_[e], expert_begin_[e + 1] - expert_begin_[e]};
  };
  // Conversions of one expert's few rows stay on this thread; a big group uses the pool.
  auto prepare = [&](Activations* a, TensorType t, const float* x, int64_t n, int64_t cols) {
    return a->Prepare(VecDotType(t), x, n, cols, cols, n >= 8 ? mo.pool : nullptr);
  };
  std::vector<MatmulJob> jobs;
  auto flush = [&](size_t max_jobs, bool force) -> Status {
    if (jobs.empty() || (!force && jobs.size() + 2 <= max_jobs)) return Status::OK();
    Status st = MatmulMany(jobs, mo);
    jobs.clear();
    return st;
  };
  for (size_t i = 0; i < active_.size(); ++i) {
    const auto [b, n] = rows(i);
    WeightMatrix* m = &experts_[3 * i];
    m[0] = w.gate.Expert(active_[i]), m[1] = w.up.Expert(active_[i]), m[2] = w.down.Expert(active_[i]);
    if (VecDotType(m[0].type) == VecDotType(m[1].type)) {
      SKV_RETURN_IF_ERROR(prepare(&acts_[i], m[0].type, &xg_[b * n_embd], n, n_embd));
      jobs.push_back({&m[0], &acts_[i], &gate_[b * ff], ff});
      jobs.push_back({&m[1], &acts_[i], &up_[b * ff], ff});
      SKV_RETURN_IF_ERROR(flush(8, false));
    } else {
      SKV_RETURN_IF_ERROR(Matmul(m[0], &xg_[b * n_embd], n, n_embd, &gate_[b * ff], ff, mo));
      SKV_RETURN_IF_ERROR(Matmul(m[1], &xg_[b * n_embd], n, n_embd, &up_[b * ff], ff, mo));
    }
  }
  SKV_RETURN_IF_ERROR(flush(8, true));
  // Expert biases (ggml_add_id: the row's own expert's bias), then the activation.
  auto expert_of = [&](int64_t j) { return int64_t{ids_[slots_[j]]}; };
  for (int64_t j = 0; j < S; ++j) {
    if (w.up_bias != nullptr) Add(&up_[j * ff], w.up_bias + expert_of(j) * ff, &up_[j * ff], ff);
    if (w.gate_bias != nullptr) Add(&gate_[j * ff], w.gate_bias + expert_of(j) * ff, &gate_[j * ff], ff);
    if (c.swiglu_limit > 0.0f) {
      SwiGluOai(&gate_[j * ff], &up_[j * ff], &gate_[j * ff], ff, c.swiglu_alpha, c.swiglu_limit);
    } else {
      SwiGlu(&gate_[j * ff], &up_[j * ff], &gate_[j * ff], ff);
    }
  }
  for (size_t i = 0; i < active_.size(); ++i) {
    const auto [b, n] = rows(i);
    const WeightMatrix* down = &experts_[3 * i + 2];
    SKV_RETURN_IF_ERROR(prepare(&acts_[i], down->type, &gate_[b * ff], n, ff));
    jobs.push_back({down, &acts_[i], &down_[b * n_embd], n_embd});
    if (jobs.size() == 8) SKV_RETURN_IF_ERROR(flush(8, true));
  }
  SKV_RETURN_IF_ERROR(flush(8, true));
  if (w.down_bias != nullptr)
    for (int64_t j = 0; j < S; ++j) Add(&down_[j * n_embd], w.down_bias + expert_of(j) * n_embd, &down_[j * n_embd], n_embd);
  expert_matmuls_ += 3 * static_cast<int64_t>(active_.size());
  row_of_slot_.resize(S);
  for (int64_t j = 0; j < S; ++j) row_of_slot_[slots_[j]] = static_cast<int32_t>(j);

  // Weighted sum in rank order: out = ((w0 y0 + w1 y1) + w2 y2) + ... (ggml_mul, then the adds).
  for (int64_t t = 0; t < T; ++t) {
    float* o = out + t * n_embd;
    for (int64_t r = 0; r < k; ++r) {
      const float wr = weights_[t * k + r];
      const float* y = &down_[int64_t{row_of_slot_[t * k + r]} * n_embd];
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
