#include "model/kv_namespace.h"

#include <cstring>

namespace swarmkv {
namespace {
uint32_t FloatBits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
}  // namespace

Hash128 ComputeKvNamespace(const ModelHParams& h, const KvCacheConfig& kv, const Hash128& fp) {
  Hasher128 x;
  x.UpdateString("swarmkv-kv-namespace-v1");
  x.UpdateString(ModelArchName(h.arch));
  for (uint32_t v : {h.n_embd, h.n_layer, h.n_ff, h.n_head, h.n_head_kv, h.head_dim_k, h.head_dim_v, h.n_rot,
                     h.n_vocab})
    x.UpdateU32(v);
  x.UpdateU32(FloatBits(h.rope_freq_base));
  x.UpdateU32(h.rope_neox ? 1 : 0);
  const RopeScaling& rs = h.rope_scaling;
  x.UpdateU32(static_cast<uint32_t>(rs.type));
  x.UpdateU32(FloatBits(rs.factor));
  x.UpdateU32(FloatBits(rs.attn_factor));
  x.UpdateU32(rs.original_context_length);
  x.UpdateU32(FloatBits(rs.yarn_log_multiplier));
  x.UpdateU32(FloatBits(h.rms_norm_eps));
  x.UpdateU32((h.has_qkv_bias ? 1 : 0) | (h.has_qk_norm ? 2 : 0) | (h.has_rope_freqs ? 4 : 0));
  // The per-architecture extras change K/V too (scales, windows, the SWA layers' RoPE) and come
  // from metadata the weights fingerprint does not cover. Hashed only for the families that have
  // them, so llama/qwen namespaces (and their tier entries) stay what they were.
  if (h.arch != ModelArch::kLlama && h.arch != ModelArch::kQwen2 && h.arch != ModelArch::kQwen3) {
    for (float f : {h.embedding_scale, h.residual_scale, h.attention_scale, h.query_scale, h.logit_scale,
                    h.attn_softcap, h.final_softcap, h.rope_freq_base_swa, h.rope_freq_scale_swa})
      x.UpdateU32(FloatBits(f));
    x.UpdateU32(h.sliding_window);
    for (bool swa : h.swa_layers) x.UpdateU32(swa ? 1 : 0);
    x.UpdateU32((h.pre_norms ? 1 : 0) | (h.post_norms ? 2 : 0) | (h.qk_norm_full ? 4 : 0) | (h.fused_qkv ? 8 : 0) |
                (h.fused_gate_up ? 16 : 0) | (h.gelu_ffn ? 32 : 0) | (h.has_rope_long_short ? 64 : 0));
  }
  // Hybrid models: which layers are recurrent and their shapes decide the state and the K/V.
  if (!h.recurrent_layers.empty()) {
    for (bool r : h.recurrent_layers) x.UpdateU32(r ? 1 : 0);
    x.UpdateU32(h.shortconv_l_cache);
  }
  // Mixture of experts: top-k and the weights' normalisation come from metadata too.
  if (h.n_expert > 0)
    for (uint32_t v : {h.n_expert, h.n_expert_used, h.n_ff_exp, h.expert_weights_norm ? 1u : 0u}) x.UpdateU32(v);
  if (h.ssm.present()) {  // issue 19: the Mamba-2 shape (and NoPE) shape every state and K/V
    for (uint32_t v : {h.ssm.d_conv, h.ssm.d_inner, h.ssm.d_state, h.ssm.n_head, h.ssm.n_group}) x.UpdateU32(v);
    x.UpdateU32(h.no_rope ? 1 : 0);
  }
  x.UpdateU32(static_cast<uint32_t>(kv.k_type));
  x.UpdateU32(static_cast<uint32_t>(kv.v_type));
  x.UpdateU32(kv.block_tokens);
  x.UpdateU32(kv.numerics);
  x.UpdateHash(fp);
  return x.Digest();
}

}  // namespace swarmkv
