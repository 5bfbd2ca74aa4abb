#include "model/arch_hparams.h"

#include <cmath>

namespace swarmkv {
namespace {

std::string Key(const ModelHParams& h, std::string_view suffix) {
  return std::string(ModelArchName(h.arch)) + "." + std::string(suffix);
}

Status OptionalF32(const GgufFile& f, const std::string& key, float* out) {
  if (!f.Find(key)) return Status::OK();
  SKV_ASSIGN_OR_RETURN(*out, f.GetF32(key));
  return Status::OK();
}

Status OptionalU32(const GgufFile& f, const std::string& key, uint32_t* out) {
  const GgufValue* v = f.Find(key);
  if (!v) return Status::OK();
  if (v->is_array())
    return UnimplementedError("metadata key '" + key + "' is a per-layer array; only a single value is supported");
  SKV_ASSIGN_OR_RETURN(*out, f.GetU32(key));
  return Status::OK();
}

// Sliding-window layers as llama.cpp's gemma2/gemma3 read them: window and pattern period from
// the keys (with the family's defaults), RoPE of SWA layers from rope.freq_base_swa.
Status ReadSlidingWindow(const GgufFile& f, ModelHParams* h, uint32_t default_period) {
  uint32_t period = default_period;
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(*h, "attention.sliding_window_pattern"), &period));
  h->swa_layers = SwaLayerPattern(h->n_layer, period);
  return OptionalF32(f, Key(*h, "rope.freq_base_swa"), &h->rope_freq_base_swa);
}

// gemma_pytorch's query pre-attention scale: 1/sqrt(n_embd / n_head) for the 27B models
// (llama.cpp recognises them by layer count), 1/sqrt(head_dim) otherwise.
float GemmaQueryScale(const ModelHParams& h, uint32_t layers_27b) {
  return h.n_layer == layers_27b ? 1.0f / std::sqrt(float(h.n_embd / h.n_head))
                                 : 1.0f / std::sqrt(float(h.head_dim_k));
}

Status ReadGranite(const GgufFile& f, ModelHParams* h) {
  SKV_ASSIGN_OR_RETURN(h->logit_scale, f.GetF32(Key(*h, "logit_scale")));
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "residual_scale"), &h->residual_scale));
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "embedding_scale"), &h->embedding_scale));
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "attention.scale"), &h->attention_scale));
  // Granite uses rope.scaling.finetuned as its RoPE switch, on unless the key says false.
  if (f.Find(Key(*h, "rope.scaling.finetuned")) && !h->rope_scaling.finetuned)
    return UnimplementedError("granite without RoPE (" + Key(*h, "rope.scaling.finetuned") + " = false) is not supported");
  for (const char* t : {"blk.0.attn_output.bias", "blk.0.ffn_up.bias", "blk.0.ffn_gate.bias", "blk.0.ffn_down.bias",
                        "blk.0.ffn_gate_inp.weight"})
    if (f.FindTensor(t)) return UnimplementedError(std::string("granite tensor '") + t + "' (biases / MoE) is not supported");
  return Status::OK();
}

Status ReadOlmo2(const GgufFile& f, ModelHParams* h) {
  uint32_t window = 0;
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(*h, "attention.sliding_window"), &window));
  if (window > 0) return UnimplementedError("olmo2 with sliding-window layers (OLMo 3) is not supported");
  h->has_qk_norm = true;  // required by the family: binding names the tensor if it is missing
  h->pre_norms = false;
  h->post_norms = true;
  h->qk_norm_full = true;
  return Status::OK();
}

Status ReadPhi3(const GgufFile& f, ModelHParams* h) {
  // llama.cpp ignores phi3's attention.sliding_window (its SWA is disabled), and so do we.
  if (f.FindTensor("blk.0.ffn_gate_inp.weight")) return UnimplementedError("phi3 MoE (phimoe) is not supported");
  h->fused_gate_up = true;
  h->query_scale = 1.0f / std::sqrt(float(h->head_dim_v));
  h->has_rope_long_short = f.FindTensor("rope_factors_long.weight") != nullptr ||
                           f.FindTensor("rope_factors_short.weight") != nullptr;
  return Status::OK();
}

Status ReadGemma2(const GgufFile& f, ModelHParams* h) {
  h->embedding_scale = std::sqrt(float(h->n_embd));
  h->post_norms = true;
  h->gelu_ffn = true;
  h->tied_output = true;  // llama.cpp's gemma2 always projects with token_embd
  h->query_scale = GemmaQueryScale(*h, 46);
  h->attn_softcap = 50.0f;
  h->final_softcap = 30.0f;
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "attn_logit_softcapping"), &h->attn_softcap));
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "final_logit_softcapping"), &h->final_softcap));
  h->sliding_window = 4096;
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(*h, "attention.sliding_window"), &h->sliding_window));
  h->rope_freq_base_swa = h->rope_freq_base;
  h->rope_freq_scale_swa = 1.0f / h->rope_scaling.factor;
  return ReadSlidingWindow(f, h, 2);
}

Status ReadGemma3(const GgufFile& f, ModelHParams* h) {
  h->has_qk_norm = true;  // required by the family: binding names the tensor if it is missing
  h->embedding_scale = std::sqrt(float(h->n_embd));
  h->post_norms = true;
  h->gelu_ffn = true;
  h->query_scale = GemmaQueryScale(*h, 62);
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "final_logit_softcapping"), &h->final_softcap));
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(*h, "attention.sliding_window"), &h->sliding_window));
  if (h->sliding_window == 0) return Status::OK();
  h->rope_freq_base_swa = 10000.0f;
  h->rope_freq_scale_swa = 1.0f;
  return ReadSlidingWindow(f, h, 6);
}

// LFM2 (llama.cpp src/models/lfm2.cpp): gated short-conv layers where head_count_kv is 0,
// attention layers with per-head q/k RMSNorm and NeoX RoPE elsewhere, SwiGLU FFN everywhere,
// the final norm stored as token_embd_norm.weight.
Status ReadLfm2(const GgufFile& f, ModelHParams* h) {
  SKV_ASSIGN_OR_RETURN(h->shortconv_l_cache, f.GetU32(Key(*h, "shortconv.l_cache")));
  uint32_t window = 0;
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(*h, "attention.sliding_window"), &window));
  if (window > 0) return UnimplementedError("lfm2 with sliding-window attention layers is not supported");
  for (const char* t : {"dense_2_out.weight", "blk.0.ffn_gate_inp.weight"})
    if (f.FindTensor(t)) return UnimplementedError(std::string("lfm2 tensor '") + t + "' (ColBERT head / MoE) is not supported");
  h->has_qk_norm = true;  // every attention layer has them (layer 0 may be a conv layer)
  return Status::OK();
}

// qwen3moe as llama.cpp's src/models/qwen3moe.cpp: expert count and top-k from the generic
// keys (both required), one expert's width from expert_feed_forward_length (else n_ff / top-k),
// the top-k weights always renormalised (its graph passes norm_w = true; no weights scale).
Status ReadQwen3Moe(const GgufFile& f, ModelHParams* h) {
  SKV_ASSIGN_OR_RETURN(h->n_expert, f.GetU32(Key(*h, "expert_count")));
  SKV_ASSIGN_OR_RETURN(h->n_expert_used, f.GetU32(Key(*h, "expert_used_count")));
  if (h->n_expert_used == 0) return InvalidArgumentError(Key(*h, "expert_used_count") + " is 0");
  h->n_ff_exp = h->n_ff / h->n_expert_used;
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(*h, "expert_feed_forward_length"), &h->n_ff_exp));
  h->expert_weights_norm = true;
  h->has_qk_norm = true;  // required by the family: binding names the tensor if it is missing
  for (const char* t : {"blk.0.ffn_gate_inp_shexp.weight", "blk.0.ffn_up_shexp.weight", "blk.0.ffn_gate_exps.bias",
                        "blk.0.ffn_gate_up_exps.weight", "blk.0.exp_probs_b.bias"})
    if (f.FindTensor(t)) return UnimplementedError(std::string("qwen3moe tensor '") + t + "' is not supported");
  return Status::OK();
}

// Issue 19. mamba2: every layer a Mamba-2 mixer (ssm.* keys required).
Status ReadMamba2(const GgufFile& f, ModelHParams* h) {
  SKV_RETURN_IF_ERROR(ReadSsmKeys(f, std::string(ModelArchName(h->arch)), &h->ssm));
  h->recurrent_layers.assign(h->n_layer, true);
  return Status::OK();
}

// granitehybrid (Granite 4.0 H): granite's multipliers (each optional, as llama.cpp reads them),
// Mamba-2 layers where head_count_kv is 0 (hparams.cc read the layout), attention elsewhere;
// RoPE unless rope.scaling.finetuned says false (NoPE: Granite 4.0 H). Dense FFN only.
Status ReadGraniteHybrid(const GgufFile& f, ModelHParams* h) {
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "logit_scale"), &h->logit_scale));
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "residual_scale"), &h->residual_scale));
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "embedding_scale"), &h->embedding_scale));
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(*h, "attention.scale"), &h->attention_scale));
  h->no_rope = f.Find(Key(*h, "rope.scaling.finetuned")) != nullptr && !h->rope_scaling.finetuned;
  SKV_RETURN_IF_ERROR(ReadSsmKeys(f, std::string(ModelArchName(h->arch)), &h->ssm));
  for (const char* t : {"blk.0.ffn_gate_inp.weight", "blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_shexp.weight"})
    if (f.FindTensor(t)) return UnimplementedError(std::string("granitehybrid tensor '") + t + "' (MoE) is not supported");
  return Status::OK();
}

// gpt-oss as llama.cpp's src/models/openai-moe.cpp loads it: expert counts (generic keys) and
// expert_feed_forward_length required, attention.sliding_window required with the period-2
// pattern (even layers slide) unless sliding_window_pattern says otherwise, SWA layers with the
// global RoPE (base from rope.freq_base_swa when given); routing by softmax over the top-k
// router logits (SOFTMAX_WEIGHT, no renormalisation), the clamped SwiGLU of alpha 1.702 and
// limit 7 (LLM_FFN_SWIGLU_OAI_MOE), attention sinks and the attention/router/expert biases.
Status ReadGptOss(const GgufFile& f, ModelHParams* h) {
  SKV_ASSIGN_OR_RETURN(h->n_expert, f.GetU32(Key(*h, "expert_count")));
  SKV_ASSIGN_OR_RETURN(h->n_expert_used, f.GetU32(Key(*h, "expert_used_count")));
  SKV_ASSIGN_OR_RETURN(h->n_ff_exp, f.GetU32(Key(*h, "expert_feed_forward_length")));
  SKV_ASSIGN_OR_RETURN(h->sliding_window, f.GetU32(Key(*h, "attention.sliding_window")));
  if (h->sliding_window == 0) return InvalidArgumentError(Key(*h, "attention.sliding_window") + " is 0");
  h->rope_freq_base_swa = h->rope_freq_base;
  h->rope_freq_scale_swa = 1.0f / h->rope_scaling.factor;
  SKV_RETURN_IF_ERROR(ReadSlidingWindow(f, h, 2));
  h->expert_softmax_weight = true;
  h->swiglu_oai_alpha = 1.702f;
  h->swiglu_oai_limit = 7.0f;
  h->has_attn_sinks = true;
  h->has_out_bias = true;
  h->has_expert_biases = true;
  h->post_norms = false;  // post_attention_norm is the FFN pre-norm here (model/weights.cc)
  for (const char* t : {"blk.0.ffn_gate_up_exps.weight", "blk.0.ffn_up_shexp.weight", "blk.0.exp_probs_b.bias"})
    if (f.FindTensor(t)) return UnimplementedError(std::string("gpt-oss tensor '") + t + "' is not supported");
  return Status::OK();
}

}  // namespace

bool ArchHasRecurrentLayers(ModelArch arch) {
  return arch == ModelArch::kLfm2 || arch == ModelArch::kMamba2 || arch == ModelArch::kGraniteHybrid;
}

std::vector<bool> SwaLayerPattern(uint32_t n_layer, uint32_t period) {
  std::vector<bool> swa(n_layer);
  for (uint32_t il = 0; il < n_layer; ++il) swa[il] = period == 0 || il % period < period - 1;
  return swa;
}

Status ReadArchHParams(const GgufFile& f, ModelHParams* h) {
  if (!h->recurrent_layers.empty() && !ArchHasRecurrentLayers(h->arch))
    return UnimplementedError(std::string(ModelArchName(h->arch)) + " with recurrent layers (" + Key(*h, "attention.head_count_kv") +
                              " entries of 0) is not supported");
  switch (h->arch) {
    case ModelArch::kLlama:
    case ModelArch::kQwen2:
    case ModelArch::kQwen3: return Status::OK();
    case ModelArch::kGranite: return ReadGranite(f, h);
    case ModelArch::kOlmo2: return ReadOlmo2(f, h);
    case ModelArch::kPhi3: return ReadPhi3(f, h);
    case ModelArch::kGemma2: return ReadGemma2(f, h);
    case ModelArch::kGemma3: return ReadGemma3(f, h);
    case ModelArch::kLfm2: return ReadLfm2(f, h);
    case ModelArch::kQwen3Moe: return ReadQwen3Moe(f, h);
    case ModelArch::kMamba2: return ReadMamba2(f, h);
    case ModelArch::kGraniteHybrid: return ReadGraniteHybrid(f, h);
    case ModelArch::kGptOss: return ReadGptOss(f, h);
  }
  return InternalError("unknown architecture");
}

Status ValidateArchHParams(const ModelHParams& h) {
  for (auto [name, v] : {std::pair<const char*, float>{"embedding_scale", h.embedding_scale},
                         {"residual_scale", h.residual_scale},
                         {"attention.scale", h.attention_scale},
                         {"query scale", h.query_scale},
                         {"logit_scale", h.logit_scale},
                         {"attn_logit_softcapping", h.attn_softcap},
                         {"final_logit_softcapping", h.final_softcap},
                         {"rope.freq_base_swa", h.rope_freq_base_swa},
                         {"rope frequency scale of SWA layers", h.rope_freq_scale_swa}}) {
    if (!std::isfinite(v) || v < 0.0f)
      return InvalidArgumentError(std::string("hyper-parameter ") + name + " must be finite and >= 0, got " +
                                  std::to_string(v));
  }
  if (h.sliding_window > 0 && h.swa_layers.size() != h.n_layer)
    return InvalidArgumentError("sliding window set but the SWA layer pattern has " +
                                std::to_string(h.swa_layers.size()) + " entries for " + std::to_string(h.n_layer) +
                                " layers");
  if (h.sliding_window == 0 && !h.swa_layers.empty())
    return InvalidArgumentError("SWA layers marked without a sliding window");
  if (h.sliding_window > 0 && !(h.rope_freq_base_swa > 0.0f))
    return InvalidArgumentError("rope.freq_base_swa must be positive");
  if (!h.recurrent_layers.empty()) {
    if (h.recurrent_layers.size() != h.n_layer)
      return InvalidArgumentError(std::to_string(h.recurrent_layers.size()) + " recurrent-layer flags for " +
                                  std::to_string(h.n_layer) + " layers");
    if (h.n_attention_layers() == 0)
      return UnimplementedError("a model without attention layers (pure recurrent) is not supported yet");
  }
  if (h.arch == ModelArch::kLfm2 && (h.shortconv_l_cache < 2 || h.shortconv_l_cache > 64))
    return InvalidArgumentError("lfm2.shortconv.l_cache must be in 2..64, got " + std::to_string(h.shortconv_l_cache));
  if (h.n_expert > 0) {  // llama.cpp's LLAMA_MAX_EXPERTS is 512
    if (h.n_expert > 512)
      return InvalidArgumentError("expert_count " + std::to_string(h.n_expert) + " exceeds 512");
    if (h.n_expert_used == 0 || h.n_expert_used > h.n_expert)
      return InvalidArgumentError("expert_used_count " + std::to_string(h.n_expert_used) + " must be in 1.." +
                                  std::to_string(h.n_expert) + " (expert_count)");
    if (h.n_ff_exp == 0 || h.n_ff_exp > (1u << 22))
      return InvalidArgumentError("expert_feed_forward_length " + std::to_string(h.n_ff_exp) + " out of range");
  } else if (h.n_expert_used != 0) {
    return InvalidArgumentError("expert_used_count set without experts");
  }
  return Status::OK();
}

}  // namespace swarmkv
