// ForwardPass: one llama-family forward step over a StepBatch that mixes sequences at different
// positions (prefill chunks of some, decode tokens of others), with KV in the memory core.
//
//   embeddings (x scale) -> per layer: RMSNorm -> Q/K/V projections (+ qwen2 biases, qwen3/gemma3
//   per-head or olmo2 whole-vector q/k RMSNorm) -> RoPE (per-layer for SWA layers) -> Q scale ->
//   K/V rows written into the sequence's blocks -> paged attention over its block table (window,
//   soft-cap) -> output projection -> post-norm / residual scale -> residual -> RMSNorm ->
//   SwiGLU or GeGLU FFN -> post-norm / residual scale -> residual; final RMSNorm -> logits (scale,
//   soft-cap) for the spans that want them (their last row only). The per-architecture steps
//   (granite, olmo2, phi3, gemma2/3) are switched by ForwardConfig and the optional weights;
//   a mixture-of-experts FFN (qwen3moe) replaces the dense one when ForwardConfig::moe is set.
//
// The matmuls run on all batch rows at once; attention runs per sequence — or, for sequences whose
// block tables start with the same physical blocks (a shared prompt prefix), per group of them in
// one shared-prefix (cascade) call that reads those blocks once per layer and gives each sequence
// the bits it gets alone (kernels/attention_cascade.h; ForwardOptions::cascade_attention). Every kernel used is
// batch-invariant (a row's result depends only on that row and, for attention, on its own
// sequence's KV), so a token's logits are identical bit for bit whatever the batch composition,
// prompt chunking or prefix-cache state (tests/engine/exactness_test.cc).
//
// Batch slots are KvMemory SequenceIds. A span's tokens are committed to memory only after the
// whole step succeeded; on error nothing is committed.
//
// Hybrid models (issue 19): layers marked in ForwardConfig::recurrent_layers run a RecurrentLayer
// (engine/recurrent_layer.h) instead of attention; only the attention layers have KV (the
// namespace's KvShape counts them alone). A pure recurrent model (mamba2: every layer a Mamba-2
// mixer, no FFN; ForwardConfig with no heads) is the same path with no attention layer at all:
// its namespace has the state-only shape, whose blocks hold only the checkpoints. The pass keeps each running sequence's live recurrent
// state (double-buffered: a step writes the other buffer, swapped only when the step commits),
// and writes every recurrent layer's state into the checkpoint area of each block whose last
// position the step computes (KvMemory::MutableRecurrentState) — every k-th block, those the
// namespace's checkpoint interval gives an area — so those sealed blocks carry the state after
// their last token and a prefix hit restores it (SetRecurrentState).
//
// Thread-safety: one Run at a time (scratch buffers are members); the kernels use `pool`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/hash.h"
#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/recurrent_layer.h"
#include "engine/moe_ffn.h"
#include "engine/step_batch.h"
#include "kernels/attention.h"
#include "kernels/attention_cascade.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/quants.h"
#include "memory/kv_memory.h"

namespace swarmkv {

class AttentionKvSources;  // engine/attention_kv_sources.h

// The numbers the forward pass needs (filled from the model's hyper-parameters).
struct ForwardConfig {
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim_k = 0;
  int32_t head_dim_v = 0;
  int32_t n_ff = 0;
  int32_t n_vocab = 0;
  float rms_eps = 1e-5f;
  RopeParams rope;  // n_dims, neox, base, scaling

  // Per-architecture steps (engine/model_binding.cc fills them from ModelHParams; zero = off).
  float embedding_scale = 0.0f;  // x *= s after the embedding lookup (granite, gemma)
  float residual_scale = 0.0f;   // block outputs *= s before each residual add (granite)
  float attention_scale = 0.0f;  // the attention's KQ scale; 0 = 1/sqrt(head_dim_k)
  float query_scale = 0.0f;      // Q *= s after RoPE, then KQ scale 1 (gemma, phi3)
  float logit_scale = 0.0f;      // logits /= s (granite)
  float attn_softcap = 0.0f;     // KQ soft-cap (gemma2)
  float final_softcap = 0.0f;    // logits soft-cap (gemma2/3)
  bool qk_norm_full = false;     // q/k norms over the whole vector (olmo2), else per head
  bool gelu_ffn = false;         // GeGLU instead of SwiGLU (gemma)
  int64_t sliding_window = 0;    // > 0: layers with swa_layers[l] attend keys (p - window, p]
  std::vector<bool> swa_layers;  // empty or n_layer entries
  RopeParams rope_swa;           // RoPE of the SWA layers (gemma3: base 10000)
  MoeConfig moe;                 // n_expert > 0: every layer's FFN is a mixture of experts (qwen3moe)
  bool no_rope = false;          // NoPE: no rotation at all (granitehybrid, Granite 4.0 H)

  // Hybrid models: n_layer entries, true for a layer that runs a RecurrentLayer (no attention,
  // no KV); empty for attention-only models.
  std::vector<bool> recurrent_layers;

  bool is_swa(int layer) const { return layer < static_cast<int>(swa_layers.size()) && swa_layers[layer]; }
  bool is_recurrent(int layer) const {
    return layer < static_cast<int>(recurrent_layers.size()) && recurrent_layers[layer];
  }
  int32_t n_attention_layers() const;  // layers with KV
  Status Validate() const;
};

// Views into the mapped weights (nothing owned). Norm weights and biases are F32 vectors.
struct ForwardLayerWeights {
  const float* attn_norm = nullptr;  // [n_embd], or nullptr: no pre-norm (olmo2)
  WeightMatrix wq, wk, wv, wo;       // [q_dim][n_embd], [k_dim][n_embd], [v_dim][n_embd], [n_embd][n_head*Dv]
  const float* bq = nullptr;         // qwen2 biases, or nullptr
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* bo = nullptr;         // attn_output bias [n_embd] (gpt-oss), or nullptr
  const float* attn_sinks = nullptr; // per-head attention-sink logits [n_head] (gpt-oss), or nullptr
  const float* q_norm = nullptr;     // per-head RMSNorm weights [head_dim_k] (qwen3, gemma3), or
  const float* k_norm = nullptr;     // [q_dim] / [k_dim] with qk_norm_full (olmo2), or nullptr
  const float* attn_post_norm = nullptr;  // [n_embd] on the attention output (olmo2, gemma), or nullptr
  const float* ffn_norm = nullptr;   // [n_embd], or nullptr: no pre-norm (olmo2)
  const float* ffn_post_norm = nullptr;   // [n_embd] on the FFN output (olmo2, gemma), or nullptr
  WeightMatrix gate, up, down;       // [n_ff][n_embd], [n_ff][n_embd], [n_embd][n_ff]; all absent
                                     // (data nullptr) in a recurrent layer without FFN (mamba2)
  MoeLayerWeights moe;               // with ForwardConfig::moe (then gate/up/down are unused)
  // Recurrent layers only (ForwardConfig::is_recurrent): the layer run in place of attention
  // (then wq/wk/wv/wo, biases and q/k norms are unused). Owned by this pass once created.
  std::shared_ptr<RecurrentLayer> recurrent;
};

struct ForwardWeights {
  WeightMatrix token_embd;             // [n_vocab][n_embd]
  const float* output_norm = nullptr;  // [n_embd]
  WeightMatrix output;                 // [n_vocab][n_embd] (token_embd when tied)
  std::vector<ForwardLayerWeights> layers;
};

struct ForwardOptions {
  ThreadPool* pool = nullptr;  // nullptr: single-threaded
  Isa isa = ActiveIsa();
  // Shared-prefix (cascade) attention: spans whose block tables start with the same blocks run
  // their attention in one PagedAttentionShared call that reads the shared blocks once per
  // layer (kernels/attention_cascade.h). Same bits either way; false is the per-sequence path.
  bool cascade_attention = true;
};

class ForwardPass {
 public:
  // `memory` must outlive the pass; `namespace_id` must be registered there with a KV shape that
  // matches `config` (layers, kv heads, head dims). InvalidArgument on any mismatch.
  static Result<std::unique_ptr<ForwardPass>> Create(ForwardConfig config, ForwardWeights weights, KvMemory* memory,
                                                     const Hash128& namespace_id, ForwardOptions options = {});

  // Runs one step. Spans' slots are SequenceIds of `memory` in this namespace, each at its
  // current length. Fills out->logits (n_vocab floats per span with want_logits).
  Status Run(const StepBatch& batch, StepOutput* out);

  // Cold KV blocks (context beyond RAM): attention reads them through `sources` (nullptr: none).
  void SetKvSources(AttentionKvSources* sources) { kv_sources_ = sources; }

  const ForwardConfig& config() const { return config_; }
  // Spans whose attention ran grouped with others sharing their leading blocks, since creation
  // (counted once per step, not per layer).
  int64_t grouped_spans() const { return grouped_spans_; }
  const KvLayout& layout() const { return layout_; }

  // ---- Hybrid models (no-ops / zero for attention-only ones)
  // Bytes of each recurrent layer's state, in layer order: the namespace's
  // recurrent_bytes_per_layer (checkpoint layout: layer r's slice at the sum of the ones before).
  std::vector<uint64_t> RecurrentStateBytesPerLayer() const;
  uint64_t recurrent_state_bytes() const { return state_total_bytes_; }
  bool hybrid() const { return state_total_bytes_ != 0; }
  // The state `seq` continues from at its current length: a prefix hit's
  // PrefixMatch::recurrent_state (copied), or empty = zeros (a fresh sequence). A sequence at
  // position 0 that was never set starts from zeros; one at a later position must be set (Run
  // fails with FailedPrecondition otherwise). InvalidArgument for a state of the wrong size.
  Status SetRecurrentState(SequenceId seq, std::span<const uint8_t> state);
  // Drops the live state of a released sequence.
  void ForgetSequence(SequenceId seq);

 private:
  ForwardPass(ForwardConfig config, ForwardWeights weights, KvMemory* memory, KvLayout layout, ForwardOptions options);
  Status RunLayer(int layer, const StepBatch& batch, const std::vector<BlockTable>& tables);
  // xn = RMSNorm(x) * weight, or x itself when the layer has no pre-norm (one row).
  void PreNorm(const float* x, const float* weight, float* xn) const;
  // x += residual_scale * PostNorm(out) (each step only when configured; one row, out modified).
  void AddBlockOutput(float* out, const float* post_norm, float* x) const;
  // Multiplies xn_ (T rows) by several matrices, converting the rows once per vec-dot type.
  Status MatmulShared(std::initializer_list<const WeightMatrix*> ws, std::initializer_list<float*> ys,
                      std::initializer_list<int64_t> y_cols, int64_t T);

  // Constant after construction.
  const ForwardConfig config_;
  const ForwardWeights weights_;
  KvMemory* const memory_;
  const KvLayout layout_;
  const ForwardOptions options_;
  std::vector<KvLayerLayout> layer_layouts_;
  AttentionKvSources* kv_sources_ = nullptr;

  // Scratch, resized per step: T = batch rows.
  std::vector<int64_t> positions_;  // [T]
  std::vector<float> x_;            // residual stream [T][n_embd]
  std::vector<float> xn_;           // normed input [T][n_embd]
  std::vector<float> q_, k_, v_;    // [T][q_dim], [T][k_dim], [T][v_dim]
  std::vector<float> attn_;         // [T][n_head * Dv]
  std::vector<float> proj_;         // [T][n_embd]
  std::vector<float> gate_, up_;    // [T][n_ff]
  Activations act_;                 // xn_ converted to a weight's vec-dot type
  // Shared-prefix attention, fixed per step: spans (indices into batch.spans) of groups of two
  // or more sequences whose tables start with the same block, sharers adjacent; the others.
  std::vector<int> grouped_order_;
  std::vector<int> solo_spans_;
  std::vector<int64_t> span_rows_;  // first batch row of each span
  MoeFfn moe_ffn_;                  // the MoE layers' FFN (engine/moe_ffn.h) and its scratch
  std::vector<AttentionSequence> attn_seqs_;
  int64_t grouped_spans_ = 0;

  // Hybrid models. Per layer: its KV layer index (attention) or the offset of its state in the
  // checkpoint (recurrent).
  std::vector<int32_t> kv_layer_;
  std::vector<uint64_t> state_offset_;
  uint64_t state_total_bytes_ = 0;
  struct LiveState {
    std::vector<uint8_t> buf[2];  // buf[cur]: the state after `position` tokens
    int cur = 0;
    int64_t position = 0;
  };
  std::unordered_map<SequenceId, LiveState> live_;
  // Per step: each span's live state and the checkpoint areas of the blocks it completes
  // (token index in the span, checkpoint base).
  std::vector<LiveState*> span_live_;
  std::vector<std::vector<RecurrentSnapshot>> span_checkpoints_;
  std::vector<RecurrentSnapshot> layer_snapshots_;
  std::vector<RecurrentSpan> layer_spans_;
  Status PrepareRecurrent(const StepBatch& batch);
  Status RunRecurrent(int layer, const StepBatch& batch);
  // x += mixer output (proj_), then the FFN block (skipped when the layer has none).
  Status RunFeedForward(int layer, int64_t T);
};

}  // namespace swarmkv
