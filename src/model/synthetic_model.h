// The built-in synthetic model: random weights with real shapes (tiny, smollm2-135m,
// qwen2.5-0.5b, granite-3.3-2b, olmo2-1b, phi-3.5-mini, gemma2-2b, gemma3-1b, gemma3-270m, lfm2-350m,
// qwen3-30b-a3b, granite-4.0-h-350m, mamba2-130m, gpt-oss-20b; any of them with fewer layers, the MoE ones with fewer experts) and a byte-level BPE tokenizer with the family's chat template and
// special tokens, written as a GGUF file llama.cpp also loads.
//
// Invariant: the output file is a pure function of (shape, type, seed): weights come from a
// per-(seed, tensor, row) xoshiro256** stream, so generation order and thread count do not
// matter. Weights are uniform in ±0.02·√3 (σ = 0.02), norms are 1.0 and biases small, so
// activations stay finite through every layer.
//
// Thread-safety: MakeSyntheticModel uses ThreadPool::Default(); call it from one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "gguf/tensor_type.h"
#include "model/hparams.h"

namespace swarmkv {

struct SyntheticShape {
  std::string name;  // "tiny", "smollm2-135m", "qwen2.5-0.5b", "tiny-qwen2", "tiny-qwen3"
  ModelArch arch = ModelArch::kLlama;
  uint32_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0, n_vocab = 0, n_ctx = 0;
  float rope_freq_base = 10000.0f;
  float rms_norm_eps = 1e-5f;
  bool tied_embeddings = true;
  bool qkv_bias = false;  // qwen2
  bool qk_norm = false;   // qwen3, gemma3 (per head), olmo2 (whole q/k)
  std::string tokenizer_pre = "gpt-2";
  // Per-architecture metadata, written under {arch}.* (0 = key not written).
  float embedding_scale = 0.0f, residual_scale = 0.0f, attention_scale = 0.0f, logit_scale = 0.0f;  // granite
  float attn_softcap = 0.0f, final_softcap = 0.0f;  // gemma2/3 *_logit_softcapping
  uint32_t sliding_window = 0;                      // gemma attention.sliding_window
  uint32_t sliding_window_pattern = 0;              // 0: the family's default (key not written)
  float rope_freq_base_swa = 0.0f;                  // gemma3 rope.freq_base_swa
  uint32_t rope_original_context = 0;               // phi3 rope.scaling.original_context_length
  float rope_attn_factor = 0.0f;                    // phi3 rope.scaling.attn_factor
  // Hybrid models (lfm2): true for a recurrent layer (head_count_kv is then written as a
  // per-layer array with 0 there); cut or extended with the family's pattern by --layers.
  std::vector<bool> recurrent_layers;
  uint32_t shortconv_l_cache = 0;                   // lfm2 shortconv.l_cache
  // Mixture of experts (qwen3moe): expert_count, expert_used_count, expert_feed_forward_length.
  uint32_t n_expert = 0, n_expert_used = 0, n_ff_exp = 0;
  // gpt-oss: rope.scaling.type "yarn" with this factor (0: no scaling keys written; the
  // original context is rope_original_context). Its experts are MXFP4 whatever the type, like
  // the published files; its attention sinks, biases and router are F32.
  float rope_yarn_factor = 0.0f;
  // Issue 19, Mamba-2 (mamba2, granitehybrid): the {arch}.ssm.* keys (0 = no SSM layers).
  uint32_t ssm_conv_kernel = 0, ssm_state_size = 0, ssm_group_count = 0, ssm_inner_size = 0, ssm_time_step_rank = 0;
  std::vector<uint32_t> attention_layers;  // granitehybrid: the attention layers (the others are Mamba-2)
  bool no_rope = false;                    // granitehybrid: rope.scaling.finetuned = false (NoPE)
};

// granitehybrid cut short to n_layer layers keeps the real attention layers below n_layer; when
// none is left (and n_layer >= 2) layer n_layer / 2 becomes attention, so the hybrid stays one.
std::vector<uint32_t> HybridAttentionLayers(const SyntheticShape& shape);

// Names accepted by FindSyntheticShape, the three public ones first.
std::vector<std::string> SyntheticShapeNames();
Result<SyntheticShape> FindSyntheticShape(std::string_view name);
// The real shape `make-model --arch` writes for an architecture ("granite" -> granite-3.3-2b).
Result<std::string> DefaultShapeForArch(std::string_view arch);

// The hyper-parameters a model of this shape loads with.
ModelHParams SyntheticHParams(const SyntheticShape& shape);

struct SyntheticModelOptions {
  std::string shape = "tiny";
  TensorType type = TensorType::kF16;  // of the 2-D weights; norms and biases stay f32
  uint64_t seed = 0;
  uint32_t n_layer = 0;  // > 0: that many layers instead of the shape's (a real shape, cut short)
  // > 0: that many experts per MoE layer instead of the shape's (top-k and width unchanged; a
  // real MoE shape made small enough to write; must be >= the shape's expert_used_count).
  uint32_t n_expert = 0;
  // Write only the metadata (no tensors) — fast, for unit tests of the big shapes'
  // hyper-parameters and tokenizer. Such a file is not a loadable model.
  bool metadata_only = false;
  Env* env = Env::Default();
};

// Number of BPE merges the synthetic tokenizer learns (fewer if the corpus runs out).
inline constexpr size_t kSyntheticBpeMerges = 2500;

Status MakeSyntheticModel(const SyntheticModelOptions& options, const std::string& path);

}  // namespace swarmkv
