#include "model/weights.h"

#include "kernels/quants.h"

namespace swarmkv {
namespace {

std::string ShapeString(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// `t` has shape `want` (trailing 1s insignificant: [576, 1] == [576]) and a type swarmkv computes with.
Status CheckShapeAndType(const GgufTensorInfo& t, const std::string& name, const std::vector<uint64_t>& want) {
  std::vector<uint64_t> have = t.shape;
  while (have.size() > want.size() && have.back() == 1) have.pop_back();
  if (have != want)
    return InvalidArgumentError("tensor '" + name + "' has shape " + ShapeString(t.shape) + ", expected " +
                                ShapeString(want));
  if (!t.type_known || !CanDequantize(t.type()))
    return UnimplementedError("tensor '" + name + "' has type " + TensorTypeName(t.type_id) +
                              ", which swarmkv cannot compute with");
  return Status::OK();
}

// Binds tensor `name` with the expected shape {ne0} (ne1 == 0) or {ne0, ne1}.
Status BindTensor(const GgufFile& f, const std::string& name, int64_t ne0, int64_t ne1, bool required,
                  TensorRef* out) {
  const GgufTensorInfo* t = f.FindTensor(name);
  if (!t) {
    if (required) return NotFoundError("tensor '" + name + "' not found");
    return Status::OK();
  }
  std::vector<uint64_t> want = {static_cast<uint64_t>(ne0)};
  if (ne1 > 0) want.push_back(static_cast<uint64_t>(ne1));
  SKV_RETURN_IF_ERROR(CheckShapeAndType(*t, name, want));
  out->data = t->data;
  out->type_id = t->type_id;
  out->ne0 = ne0;
  out->ne1 = ne1 > 0 ? ne1 : 1;
  out->row_bytes = static_cast<size_t>(*RowSizeBytes(t->type_id, static_cast<uint64_t>(ne0)));
  return Status::OK();
}

// Binds a 3-D tensor {ne0, ne1, ne2} (ne2 matrices of ne1 rows: the experts of a MoE layer).
Status BindTensor3(const GgufFile& f, const std::string& name, int64_t ne0, int64_t ne1, int64_t ne2,
                   TensorRef* out) {
  const GgufTensorInfo* t = f.FindTensor(name);
  if (!t) return NotFoundError("tensor '" + name + "' not found");
  const std::vector<uint64_t> want = {static_cast<uint64_t>(ne0), static_cast<uint64_t>(ne1), static_cast<uint64_t>(ne2)};
  SKV_RETURN_IF_ERROR(CheckShapeAndType(*t, name, want));
  out->data = t->data;
  out->type_id = t->type_id;
  out->ne0 = ne0;
  out->ne1 = ne1;
  out->ne2 = ne2;
  out->row_bytes = static_cast<size_t>(*RowSizeBytes(t->type_id, static_cast<uint64_t>(ne0)));
  return Status::OK();
}

// Rows [first, first + n) of a bound matrix, as a matrix of its own.
TensorRef RowRange(const TensorRef& t, int64_t first, int64_t n) {
  TensorRef r = t;
  r.data = t.data + static_cast<size_t>(first) * t.row_bytes;
  r.ne1 = n;
  return r;
}

// A Mamba-2 layer's ssm_* tensors (issue 19).
Status BindSsmLayer(const GgufFile& f, const std::string& p, const ModelHParams& h, LayerWeights* l) {
  const SsmHParams& s = h.ssm;
  const int64_t embd = h.n_embd, ch = s.conv_channels(), nh = s.n_head;
  SKV_RETURN_IF_ERROR(BindTensor(f, p + "ssm_in.weight", embd, s.in_proj_rows(), true, &l->ssm.in));
  SKV_RETURN_IF_ERROR(BindTensor(f, p + "ssm_conv1d.weight", s.d_conv, ch, true, &l->ssm.conv1d));
  SKV_RETURN_IF_ERROR(BindTensor(f, p + "ssm_conv1d.bias", ch, 0, h.attention_free(), &l->ssm.conv1d_b));
  SKV_RETURN_IF_ERROR(BindTensor(f, p + "ssm_dt.bias", nh, 0, true, &l->ssm.dt_b));
  SKV_RETURN_IF_ERROR(BindTensor(f, p + "ssm_a", 1, nh, true, &l->ssm.a));
  SKV_RETURN_IF_ERROR(BindTensor(f, p + "ssm_d", 1, nh, true, &l->ssm.d));
  SKV_RETURN_IF_ERROR(BindTensor(f, p + "ssm_norm.weight", s.d_inner / s.n_group, s.n_group, true, &l->ssm.norm));
  SKV_RETURN_IF_ERROR(BindTensor(f, p + "ssm_out.weight", s.d_inner, embd, true, &l->ssm.out));
  for (const TensorRef* t : {&l->ssm.conv1d, &l->ssm.conv1d_b, &l->ssm.dt_b, &l->ssm.a, &l->ssm.d, &l->ssm.norm})
    if (t->present() && t->type() != TensorType::kF32)
      return UnimplementedError("tensor '" + p + "ssm_*' (conv, dt bias, A, D, norm) must be F32, got " +
                                TensorTypeName(t->type_id));
  return Status::OK();
}

// The tensors of recurrent layer `p` ("blk.N.") of a hybrid model.
Status BindRecurrentLayer(const GgufFile& f, const ModelHParams& h, const std::string& p, LayerWeights* l) {
  const int64_t embd = h.n_embd;
  switch (h.arch) {
    case ModelArch::kLfm2:
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "shortconv.conv.weight", h.shortconv_l_cache, embd, true, &l->shortconv_conv));
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "shortconv.in_proj.weight", embd, 3 * embd, true, &l->shortconv_in_proj));
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "shortconv.out_proj.weight", embd, embd, true, &l->shortconv_out_proj));
      return Status::OK();
    case ModelArch::kMamba2:
    case ModelArch::kGraniteHybrid:
      return BindSsmLayer(f, p, h, l);
    default:
      return UnimplementedError(p + " is a recurrent layer, which " + std::string(ModelArchName(h.arch)) + " does not have");
  }
}

}  // namespace

Result<ModelWeights> ModelWeights::Bind(const GgufFile& f, const ModelHParams& h) {
  ModelWeights w;
  const int64_t embd = h.n_embd, vocab = h.n_vocab, ff = h.n_ff;
  SKV_RETURN_IF_ERROR(BindTensor(f, "token_embd.weight", embd, vocab, true, &w.token_embd));
  const char* output_norm = h.arch == ModelArch::kLfm2 ? "token_embd_norm.weight" : "output_norm.weight";
  SKV_RETURN_IF_ERROR(BindTensor(f, output_norm, embd, 0, true, &w.output_norm));
  if (h.tied_output) {
    w.output = w.token_embd;
  } else {
    SKV_RETURN_IF_ERROR(BindTensor(f, "output.weight", embd, vocab, true, &w.output));
  }
  if (h.has_rope_freqs) SKV_RETURN_IF_ERROR(BindTensor(f, "rope_freqs.weight", h.n_rot / 2, 0, true, &w.rope_freqs));
  if (h.has_rope_long_short) {
    SKV_RETURN_IF_ERROR(BindTensor(f, "rope_factors_long.weight", h.n_rot / 2, 0, true, &w.rope_long));
    SKV_RETURN_IF_ERROR(BindTensor(f, "rope_factors_short.weight", h.n_rot / 2, 0, true, &w.rope_short));
  }
  w.layers.resize(h.n_layer);
  for (uint32_t i = 0; i < h.n_layer; ++i) {
    LayerWeights& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_norm.weight", embd, 0, h.pre_norms, &l.attn_norm));
    if (h.is_recurrent(i)) {
      SKV_RETURN_IF_ERROR(BindRecurrentLayer(f, h, p, &l));
    } else {
    if (h.fused_qkv) {
      if (f.FindTensor(p + "attn_qkv.bias")) return UnimplementedError("tensor '" + p + "attn_qkv.bias' is not supported");
      TensorRef qkv;
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_qkv.weight", embd, int64_t{h.q_dim()} + h.k_dim() + h.v_dim(), true, &qkv));
      l.wq = RowRange(qkv, 0, h.q_dim());
      l.wk = RowRange(qkv, h.q_dim(), h.k_dim());
      l.wv = RowRange(qkv, int64_t{h.q_dim()} + h.k_dim(), h.v_dim());
    } else {
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_q.weight", embd, h.q_dim(), true, &l.wq));
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_k.weight", embd, h.k_dim(), true, &l.wk));
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_v.weight", embd, h.v_dim(), true, &l.wv));
    }
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_output.weight", int64_t{h.n_head} * h.head_dim_v, embd, true, &l.wo));
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_q.bias", h.q_dim(), 0, h.has_qkv_bias, &l.bq));
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_k.bias", h.k_dim(), 0, h.has_qkv_bias, &l.bk));
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_v.bias", h.v_dim(), 0, h.has_qkv_bias, &l.bv));
    const int64_t q_norm_len = h.qk_norm_full ? h.q_dim() : h.head_dim_k;
    const int64_t k_norm_len = h.qk_norm_full ? h.k_dim() : h.head_dim_k;
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_q_norm.weight", q_norm_len, 0, h.has_qk_norm, &l.q_norm));
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_k_norm.weight", k_norm_len, 0, h.has_qk_norm, &l.k_norm));
    if (l.bq.present() != h.has_qkv_bias || l.bk.present() != h.has_qkv_bias || l.bv.present() != h.has_qkv_bias)
      return InvalidArgumentError("layer " + std::to_string(i) + " has an inconsistent set of q/k/v biases");
    if (l.q_norm.present() != h.has_qk_norm || l.k_norm.present() != h.has_qk_norm)
      return InvalidArgumentError("layer " + std::to_string(i) + " has an inconsistent set of q/k norms");
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_sinks.weight", h.n_head, 0, h.has_attn_sinks, &l.attn_sinks));
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "attn_output.bias", embd, 0, h.has_out_bias, &l.bo));
    }  // attention layer
    if (h.attention_free()) continue;  // mamba2: the mixer is the whole block, no FFN
    // gpt-oss stores the FFN's pre-norm under llama.cpp's post-attention name.
    const bool gpt_oss = h.arch == ModelArch::kGptOss;
    SKV_RETURN_IF_ERROR(BindTensor(f, p + (gpt_oss ? "post_attention_norm.weight" : "ffn_norm.weight"), embd, 0,
                                   h.pre_norms, &l.ffn_norm));
    if (!gpt_oss)
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "post_attention_norm.weight", embd, 0, h.post_norms, &l.attn_post_norm));
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "post_ffw_norm.weight", embd, 0, h.post_norms, &l.ffn_post_norm));
    if (h.n_expert > 0) {
      const int64_t n_exp = h.n_expert, ff_exp = h.n_ff_exp;
      for (const char* dense : {"ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"})
        if (f.FindTensor(p + dense))
          return UnimplementedError("tensor '" + p + dense + "' beside the experts (a shared expert) is not supported");
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "ffn_gate_inp.weight", embd, n_exp, true, &l.ffn_gate_inp));
      SKV_RETURN_IF_ERROR(BindTensor3(f, p + "ffn_gate_exps.weight", embd, ff_exp, n_exp, &l.ffn_gate_exps));
      SKV_RETURN_IF_ERROR(BindTensor3(f, p + "ffn_up_exps.weight", embd, ff_exp, n_exp, &l.ffn_up_exps));
      SKV_RETURN_IF_ERROR(BindTensor3(f, p + "ffn_down_exps.weight", ff_exp, embd, n_exp, &l.ffn_down_exps));
      const bool b = h.has_expert_biases;
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "ffn_gate_inp.bias", n_exp, 0, b, &l.ffn_gate_inp_b));
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "ffn_gate_exps.bias", ff_exp, n_exp, b, &l.ffn_gate_exps_b));
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "ffn_up_exps.bias", ff_exp, n_exp, b, &l.ffn_up_exps_b));
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "ffn_down_exps.bias", embd, n_exp, b, &l.ffn_down_exps_b));
      continue;
    }
    if (h.fused_gate_up) {
      TensorRef gate_up;
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "ffn_up.weight", embd, 2 * ff, true, &gate_up));
      l.ffn_gate = RowRange(gate_up, 0, ff);
      l.ffn_up = RowRange(gate_up, ff, ff);
    } else {
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "ffn_gate.weight", embd, ff, true, &l.ffn_gate));
      SKV_RETURN_IF_ERROR(BindTensor(f, p + "ffn_up.weight", embd, ff, true, &l.ffn_up));
    }
    SKV_RETURN_IF_ERROR(BindTensor(f, p + "ffn_down.weight", ff, embd, true, &l.ffn_down));
  }
  return w;
}

}  // namespace swarmkv
