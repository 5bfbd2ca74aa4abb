// ModelWeights: the tensors of a llama-family model bound by llama.cpp's names into per-layer
// structs, every shape checked against the hyper-parameters.
//
// Invariant: after Bind succeeds, every required TensorRef points at `ne0 * ne1` elements of
// its type inside the file mapping (row_bytes = RowSizeBytes(type, ne0)), its shape equals the
// one the hyper-parameters imply, and its type is one swarmkv can compute with. Optional
// tensors (biases, q/k norms, rope_freqs) are present exactly when the hparams flags say so;
// absent ones have data == nullptr. With tied embeddings `output` aliases `token_embd`.
// Fused tensors are bound as row ranges (views): with hparams.fused_qkv, wq/wk/wv are the
// q/k/v rows of blk.N.attn_qkv.weight; with fused_gate_up, ffn_gate/ffn_up are the first and
// second n_ff rows of blk.N.ffn_up.weight (phi3). 3-D expert tensors (qwen3moe) are bound whole:
// ne2 matrices of ne1 rows, one after the other.
// Hybrid models: a recurrent layer binds its own tensors (lfm2: blk.N.shortconv.*) instead of
// the attention ones; lfm2's final norm is token_embd_norm.weight (llama.cpp's name for it).
// Mamba-2 layers (mamba2, granitehybrid) bind `ssm` (blk.N.ssm_*); mamba2 binds no FFN.
// Matrices use ggml order: ne0 = row length (input dim), ne1 = rows (output dim).
//
// Thread-safety: immutable views into the mapping; valid while the GgufFile lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"
#include "gguf/tensor_type.h"
#include "model/hparams.h"

namespace swarmkv {

struct TensorRef {
  const uint8_t* data = nullptr;
  uint32_t type_id = 0;
  int64_t ne0 = 0;  // row length (elements)
  int64_t ne1 = 0;  // rows (1 for vectors)
  size_t row_bytes = 0;
  int64_t ne2 = 1;  // matrices (the experts of a 3-D expert tensor; 1 otherwise)

  bool present() const { return data != nullptr; }
  TensorType type() const { return static_cast<TensorType>(type_id); }
  const uint8_t* row(int64_t i) const { return data + static_cast<size_t>(i) * row_bytes; }
};

// Issue 19: a Mamba-2 mixer layer (mamba2, granitehybrid), llama.cpp's blk.N.ssm_* tensors.
struct SsmLayerWeights {
  TensorRef in;        // ssm_in [n_embd, d_inner + conv_channels + n_head]: z, xBC, dt rows
  TensorRef conv1d;    // ssm_conv1d [d_conv, conv_channels] (F32)
  TensorRef conv1d_b;  // ssm_conv1d.bias [conv_channels] (optional in granitehybrid)
  TensorRef dt_b;      // ssm_dt.bias [n_head]
  TensorRef a;         // ssm_a [1, n_head]: A = -exp(A_log)
  TensorRef d;         // ssm_d [1, n_head]
  TensorRef norm;      // ssm_norm [d_inner / n_group, n_group]
  TensorRef out;       // ssm_out [d_inner, n_embd]
};

struct LayerWeights {
  TensorRef attn_norm;                 // [n_embd]; absent without pre-norms (olmo2)
  TensorRef wq, wk, wv;                // [n_embd, q_dim], [n_embd, k_dim], [n_embd, v_dim]
  TensorRef bq, bk, bv;                // qwen2: [q_dim], [k_dim], [v_dim]
  TensorRef q_norm, k_norm;            // qwen3/gemma3: [head_dim_k]; olmo2: [q_dim], [k_dim]
  TensorRef wo;                        // [n_head * head_dim_v, n_embd]
  TensorRef attn_post_norm;            // blk.N.post_attention_norm [n_embd] (olmo2, gemma)
  TensorRef ffn_norm;                  // [n_embd]; absent without pre-norms (olmo2)
  TensorRef ffn_post_norm;             // blk.N.post_ffw_norm [n_embd] (olmo2, gemma)
  TensorRef ffn_gate, ffn_up;          // [n_embd, n_ff]
  TensorRef ffn_down;                  // [n_ff, n_embd]
  // Recurrent layers of hybrid models (hparams.is_recurrent(layer)); their attention tensors
  // above are absent. lfm2's gated short conv (blk.N.shortconv.*):
  TensorRef shortconv_conv;            // conv.weight [l_cache, n_embd] (f32 in llama.cpp's files)
  TensorRef shortconv_in_proj;         // in_proj.weight [n_embd, 3 n_embd]: rows b, c, x
  TensorRef shortconv_out_proj;        // out_proj.weight [n_embd, n_embd]
  // Mixture of experts (hparams.n_expert > 0; the dense ffn_gate/up/down are then absent):
  TensorRef ffn_gate_inp;              // router [n_embd, n_expert]
  TensorRef ffn_gate_exps, ffn_up_exps;  // [n_embd, n_ff_exp, n_expert]: expert e's matrix at
  TensorRef ffn_down_exps;             // [n_ff_exp, n_embd, n_expert]  data + e * ne1 * row_bytes
  SsmLayerWeights ssm;                 // Mamba-2 layers (mamba2, granitehybrid): blk.N.ssm_*
  // gpt-oss (hparams.has_attn_sinks / has_out_bias / has_expert_biases; its FFN pre-norm,
  // blk.N.post_attention_norm.weight, is bound as ffn_norm):
  TensorRef attn_sinks;                // [n_head]
  TensorRef bo;                        // attn_output.bias [n_embd]
  TensorRef ffn_gate_inp_b;            // [n_expert]
  TensorRef ffn_gate_exps_b, ffn_up_exps_b;  // [n_ff_exp, n_expert]
  TensorRef ffn_down_exps_b;           // [n_embd, n_expert]
};

struct ModelWeights {
  TensorRef token_embd;   // [n_embd, n_vocab]
  TensorRef output_norm;  // [n_embd]
  TensorRef output;       // [n_embd, n_vocab]; == token_embd when hparams.tied_output
  TensorRef rope_freqs;   // optional [n_rot / 2]
  TensorRef rope_long, rope_short;  // phi3 LongRoPE factors [n_rot / 2], when has_rope_long_short
  std::vector<LayerWeights> layers;

  static Result<ModelWeights> Bind(const GgufFile& file, const ModelHParams& hparams);
};

}  // namespace swarmkv
