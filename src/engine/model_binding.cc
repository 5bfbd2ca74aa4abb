#include "engine/model_binding.h"

#include <cmath>

#include "engine/recurrent_layers.h"

namespace swarmkv {

WeightMatrix MatrixView(const TensorRef& t) {
  WeightMatrix w;
  w.type = t.type();
  w.data = t.data;
  w.rows = t.ne1;
  w.cols = t.ne0;
  w.row_bytes = static_cast<int64_t>(t.row_bytes);
  return w;
}

namespace {

Result<const float*> F32Vector(const TensorRef& t, const std::string& name, bool optional = false) {
  if (!t.present()) {
    if (optional) return static_cast<const float*>(nullptr);
    return InvalidArgumentError("model binding: tensor '" + name + "' is missing");
  }
  if (t.type() != TensorType::kF32)
    return UnimplementedError("model binding: tensor '" + name + "' has type " + TensorTypeName(t.type_id) +
                              "; the forward pass needs F32 norm weights and biases");
  return reinterpret_cast<const float*>(t.data);
}

// A 3-D expert tensor as ne2 matrices of ne1 rows, one after another.
ExpertStack Experts(const TensorRef& t) {
  ExpertStack s;
  s.first = MatrixView(t);
  s.count = t.ne2;
  s.stride_bytes = t.ne1 * static_cast<int64_t>(t.row_bytes);
  return s;
}

// A pure recurrent model (mamba2): every layer a mixer (no attention, no FFN), so no heads, RoPE
// or FFN width; its KV namespace is the state-only shape.
Result<ForwardConfig> AttentionFreeConfig(const ModelHParams& h) {
  ForwardConfig c;
  c.n_embd = static_cast<int32_t>(h.n_embd);
  c.n_layer = static_cast<int32_t>(h.n_layer);
  c.n_vocab = static_cast<int32_t>(h.n_vocab);
  c.rms_eps = h.rms_norm_eps;
  c.recurrent_layers = h.recurrent_layers;
  SKV_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace

Result<ForwardConfig> ForwardConfigFromModel(const Model& model, int64_t context_length) {
  const ModelHParams& h = model.hparams();
  if (h.attention_free()) return AttentionFreeConfig(h);
  ForwardConfig c;
  c.n_embd = static_cast<int32_t>(h.n_embd);
  c.n_layer = static_cast<int32_t>(h.n_layer);
  c.n_head = static_cast<int32_t>(h.n_head);
  c.n_head_kv = static_cast<int32_t>(h.n_head_kv);
  c.head_dim_k = static_cast<int32_t>(h.head_dim_k);
  c.head_dim_v = static_cast<int32_t>(h.head_dim_v);
  c.n_ff = static_cast<int32_t>(h.n_ff);
  c.n_vocab = static_cast<int32_t>(h.n_vocab);
  c.rms_eps = h.rms_norm_eps;
  RopeParams& r = c.rope;
  r.n_dims = static_cast<int>(h.n_rot);
  r.neox = h.rope_neox;
  r.freq_base = h.rope_freq_base;
  r.n_ctx_orig = static_cast<int>(h.rope_scaling.original_context_length != 0 ? h.rope_scaling.original_context_length
                                                                             : h.n_ctx_train);
  switch (h.rope_scaling.type) {
    case RopeScalingType::kNone:
      break;
    case RopeScalingType::kLinear:
      r.freq_scale = 1.0f / h.rope_scaling.factor;
      break;
    case RopeScalingType::kYarn: {
      // As llama.cpp: ext_factor 1; its context computes yarn_attn_factor = mscale(factor) (or,
      // with rope.scaling.yarn_log_multiplier, mscale(factor, 1) / mscale(factor, log_mul)) times
      // 1 / (1 + 0.1 ln factor) — cancelling the magnitude its rope kernel multiplies back in —
      // times rope.scaling.attn_factor. (Not exactly 1 in floats: the same rounding here.)
      r.freq_scale = 1.0f / h.rope_scaling.factor;
      r.ext_factor = 1.0f;
      const float factor = 1.0f / r.freq_scale;
      const auto mscale = [](float scale, float m) { return scale <= 1.0f ? 1.0f : 0.1f * m * std::log(scale) + 1.0f; };
      const float log_mul = h.rope_scaling.yarn_log_multiplier;
      float af = log_mul != 0.0f ? mscale(factor, 1.0f) / mscale(factor, log_mul) : mscale(factor, 1.0f);
      af *= 1.0f / (1.0f + 0.1f * std::log(factor));
      r.attn_factor = af * h.rope_scaling.attn_factor;
      break;
    }
    case RopeScalingType::kLongrope:  // llama.cpp: the factors below, no YaRN ramp
      r.freq_scale = 1.0f / h.rope_scaling.factor;
      break;
  }
  // rope.scaling.attn_factor scales cos/sin whatever the scaling type (phi3's LongRoPE
  // magnitude); YaRN already took it above.
  if (h.rope_scaling.type != RopeScalingType::kYarn) r.attn_factor = h.rope_scaling.attn_factor;
  if (h.has_rope_freqs) {
    const TensorRef& f = model.weights().rope_freqs;
    SKV_ASSIGN_OR_RETURN(r.freq_factors, F32Vector(f, "rope_freqs.weight"));
  } else if (h.has_rope_long_short) {
    // As llama.cpp's get_rope_factors: the long factors when the context exceeds the original
    // training context, else the short ones. The choice is fixed per loaded model (the server
    // runs at the model's context), so the KV of one namespace never mixes the two.
    const int64_t n_ctx = context_length > 0 ? context_length : int64_t{h.n_ctx_train};
    const bool use_long = n_ctx > int64_t{h.rope_scaling.original_context_length};
    const TensorRef& f = use_long ? model.weights().rope_long : model.weights().rope_short;
    SKV_ASSIGN_OR_RETURN(r.freq_factors, F32Vector(f, use_long ? "rope_factors_long.weight" : "rope_factors_short.weight"));
  }
  c.embedding_scale = h.embedding_scale;
  c.residual_scale = h.residual_scale;
  c.attention_scale = h.attention_scale;
  c.query_scale = h.query_scale;
  c.logit_scale = h.logit_scale;
  c.attn_softcap = h.attn_softcap;
  c.final_softcap = h.final_softcap;
  c.qk_norm_full = h.qk_norm_full;
  c.gelu_ffn = h.gelu_ffn;
  c.recurrent_layers = h.recurrent_layers;
  c.no_rope = h.no_rope;
  if (h.sliding_window > 0) {
    c.sliding_window = h.sliding_window;
    c.swa_layers = h.swa_layers;
    // llama.cpp's SWA layers: their own base and frequency scale, the global layers' other
    // RoPE settings (gemma2/3 have no YaRN).
    c.rope_swa = r;
    c.rope_swa.freq_base = h.rope_freq_base_swa;
    c.rope_swa.freq_scale = h.rope_freq_scale_swa;
  }
  if (h.n_expert > 0) {
    c.moe.n_expert = static_cast<int32_t>(h.n_expert);
    c.moe.n_used = static_cast<int32_t>(h.n_expert_used);
    c.moe.n_ff_exp = static_cast<int32_t>(h.n_ff_exp);
    c.moe.normalize = h.expert_weights_norm;
    c.moe.softmax_weight = h.expert_softmax_weight;
    c.moe.swiglu_alpha = h.swiglu_oai_alpha;
    c.moe.swiglu_limit = h.swiglu_oai_limit;
  }
  SKV_RETURN_IF_ERROR(c.Validate());
  return c;
}

Result<ForwardWeights> ForwardWeightsFromModel(const Model& model) {
  const ModelWeights& m = model.weights();
  ForwardWeights w;
  w.token_embd = MatrixView(m.token_embd);
  w.output = MatrixView(m.output);
  SKV_ASSIGN_OR_RETURN(w.output_norm, F32Vector(m.output_norm, "output_norm.weight"));
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerWeights& s = m.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    ForwardLayerWeights d;
    const bool pre = model.hparams().pre_norms, post = model.hparams().post_norms;
    SKV_ASSIGN_OR_RETURN(d.attn_norm, F32Vector(s.attn_norm, p + "attn_norm.weight", !pre));
    // mamba2's blocks have no FFN, hence no ffn_norm.
    SKV_ASSIGN_OR_RETURN(d.ffn_norm, F32Vector(s.ffn_norm, p + "ffn_norm.weight", !pre || model.hparams().attention_free()));
    SKV_ASSIGN_OR_RETURN(d.attn_post_norm, F32Vector(s.attn_post_norm, p + "post_attention_norm.weight", !post));
    SKV_ASSIGN_OR_RETURN(d.ffn_post_norm, F32Vector(s.ffn_post_norm, p + "post_ffw_norm.weight", !post));
    d.gate = MatrixView(s.ffn_gate);
    d.up = MatrixView(s.ffn_up);
    d.down = MatrixView(s.ffn_down);
    if (model.hparams().is_recurrent(static_cast<uint32_t>(l))) {  // hybrid: the mixer replaces attention
      SKV_ASSIGN_OR_RETURN(d.recurrent, MakeRecurrentLayer(model, static_cast<int>(l)));
      w.layers.push_back(d);
      continue;
    }
    SKV_ASSIGN_OR_RETURN(d.bq, F32Vector(s.bq, p + "attn_q.bias", true));
    SKV_ASSIGN_OR_RETURN(d.bk, F32Vector(s.bk, p + "attn_k.bias", true));
    SKV_ASSIGN_OR_RETURN(d.bv, F32Vector(s.bv, p + "attn_v.bias", true));
    SKV_ASSIGN_OR_RETURN(d.bo, F32Vector(s.bo, p + "attn_output.bias", true));
    SKV_ASSIGN_OR_RETURN(d.attn_sinks, F32Vector(s.attn_sinks, p + "attn_sinks.weight", true));
    SKV_ASSIGN_OR_RETURN(d.q_norm, F32Vector(s.q_norm, p + "attn_q_norm.weight", true));
    SKV_ASSIGN_OR_RETURN(d.k_norm, F32Vector(s.k_norm, p + "attn_k_norm.weight", true));
    d.wq = MatrixView(s.wq);
    d.wk = MatrixView(s.wk);
    d.wv = MatrixView(s.wv);
    d.wo = MatrixView(s.wo);
    if (model.hparams().n_expert > 0) {
      d.moe.router = MatrixView(s.ffn_gate_inp);
      d.moe.gate = Experts(s.ffn_gate_exps);
      d.moe.up = Experts(s.ffn_up_exps);
      d.moe.down = Experts(s.ffn_down_exps);
      SKV_ASSIGN_OR_RETURN(d.moe.router_bias, F32Vector(s.ffn_gate_inp_b, p + "ffn_gate_inp.bias", true));
      SKV_ASSIGN_OR_RETURN(d.moe.gate_bias, F32Vector(s.ffn_gate_exps_b, p + "ffn_gate_exps.bias", true));
      SKV_ASSIGN_OR_RETURN(d.moe.up_bias, F32Vector(s.ffn_up_exps_b, p + "ffn_up_exps.bias", true));
      SKV_ASSIGN_OR_RETURN(d.moe.down_bias, F32Vector(s.ffn_down_exps_b, p + "ffn_down_exps.bias", true));
    }
    w.layers.push_back(d);
  }
  return w;
}

NamespaceOptions NamespaceOptionsForModel(const Model& model, const ForwardWeights& weights, const Hash128& id,
                                          std::string name, TensorType kv_type, int32_t block_tokens) {
  const ModelHParams& h = model.hparams();
  NamespaceOptions no;
  no.id = id;
  no.name = std::move(name);
  no.shape.num_layers = static_cast<int32_t>(h.n_attention_layers());
  if (no.shape.num_layers > 0) {  // else the state-only shape (mamba2): no heads, blocks hold checkpoints only
    no.shape.num_kv_heads = static_cast<int32_t>(h.n_head_kv);
    no.shape.head_dim_k = static_cast<int32_t>(h.head_dim_k);
    no.shape.head_dim_v = static_cast<int32_t>(h.head_dim_v);
  }
  no.shape.block_tokens = block_tokens;
  no.shape.k_type = kv_type;
  no.shape.v_type = kv_type;
  for (const ForwardLayerWeights& l : weights.layers)
    if (l.recurrent != nullptr) no.recurrent_bytes_per_layer.push_back(l.recurrent->state_bytes());
  return no;
}

}  // namespace swarmkv
