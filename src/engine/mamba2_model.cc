#include "engine/mamba2_model.h"

#include "engine/model_binding.h"
#include "kernels/ops.h"
#include "kernels/quants.h"

namespace swarmkv {

Mamba2Model::Mamba2Model(const Model* model, Mamba2Config config, ThreadPool* pool, Isa isa)
    : model_(model), config_(config), pool_(pool), isa_(isa), layer_(config, pool, isa) {}

Result<std::unique_ptr<Mamba2Model>> Mamba2Model::Create(const Model* model, ThreadPool* pool, Isa isa) {
  if (model == nullptr) return InvalidArgumentError("mamba2: no model");
  const ModelHParams& h = model->hparams();
  if (h.arch != ModelArch::kMamba2)
    return InvalidArgumentError("mamba2: model is " + std::string(ModelArchName(h.arch)) + ", not mamba2");
  const Mamba2Config c = Mamba2Config::FromHParams(h);
  SKV_RETURN_IF_ERROR(c.Validate());
  std::unique_ptr<Mamba2Model> m(new Mamba2Model(model, c, pool, isa));
  const ModelWeights& w = model->weights();
  for (uint32_t l = 0; l < h.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    SKV_ASSIGN_OR_RETURN(Mamba2LayerWeights lw, Mamba2WeightsFromLayer(w.layers[l].ssm, c, p));
    m->layers_.push_back(lw);
    if (!w.layers[l].attn_norm.present() || w.layers[l].attn_norm.type() != TensorType::kF32)
      return InvalidArgumentError("mamba2: '" + p + "attn_norm.weight' missing or not F32");
    m->attn_norms_.push_back(reinterpret_cast<const float*>(w.layers[l].attn_norm.data));
  }
  m->token_embd_ = MatrixView(w.token_embd);
  m->output_ = MatrixView(w.output);
  if (w.output_norm.type() != TensorType::kF32) return InvalidArgumentError("mamba2: output_norm must be F32");
  m->output_norm_ = reinterpret_cast<const float*>(w.output_norm.data);
  m->state_floats_ = h.n_layer * (c.conv_state_floats() + c.ssm_state_floats());
  return m;
}

Mamba2SequenceState Mamba2Model::NewState() const {
  Mamba2SequenceState s;
  s.floats.assign(state_floats_, 0.0f);
  return s;
}

Status Mamba2Model::Forward(std::span<const int32_t> tokens, Mamba2SequenceState* state, std::vector<float>* logits) {
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t e = config_.n_embd;
  const int64_t vocab = model_->hparams().n_vocab;
  if (T == 0) return InvalidArgumentError("mamba2: no tokens");
  if (state == nullptr || state->floats.size() != state_floats_) return InvalidArgumentError("mamba2: bad state");
  x_.resize(static_cast<size_t>(T * e));
  for (int64_t t = 0; t < T; ++t) {
    if (tokens[t] < 0 || tokens[t] >= vocab)
      return InvalidArgumentError("mamba2: token " + std::to_string(tokens[t]) + " outside the vocabulary");
    SKV_RETURN_IF_ERROR(GetRow(token_embd_.type, token_embd_.data, token_embd_.rows, token_embd_.cols,
                               token_embd_.row_bytes, tokens[t], &x_[t * e]));
  }
  xn_.resize(x_.size());
  out_.resize(x_.size());
  float* s = state->floats.data();
  for (size_t l = 0; l < layers_.size(); ++l) {
    for (int64_t t = 0; t < T; ++t) RmsNorm(&x_[t * e], attn_norms_[l], &xn_[t * e], e, config_.rms_eps);
    Mamba2State ls{s, s + config_.conv_state_floats()};
    SKV_RETURN_IF_ERROR(layer_.Run(layers_[l], xn_.data(), e, T, ls, out_.data(), e));
    for (int64_t t = 0; t < T; ++t) Add(&out_[t * e], &x_[t * e], &x_[t * e], e);  // ggml_add(cur, inpL)
    s += config_.conv_state_floats() + config_.ssm_state_floats();
  }
  state->num_tokens += T;
  if (logits == nullptr) return Status::OK();
  RmsNorm(&x_[(T - 1) * e], output_norm_, xn_.data(), e, config_.rms_eps);
  logits->resize(static_cast<size_t>(vocab));
  return Matmul(output_, xn_.data(), 1, e, logits->data(), vocab, MatmulOptions{isa_, pool_});
}

}  // namespace swarmkv
