// ForwardPass: one llama-family forward step over a StepBatch that mixes sequences at different
// positions (prefill chunks of some, decode tokens of others), with KV in the memory core.
//
//   embeddings -> per layer: RMSNorm -> Q/K/V projections (+ qwen2 biases, qwen3 per-head q/k
//   RMSNorm) -> RoPE -> K/V rows written into the sequence's blocks -> paged attention over its
//   block table -> output projection -> residual -> RMSNorm -> SwiGLU FFN -> residual;
//   final RMSNorm -> logits for the spans that want them (their last row only).
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
// Thread-safety: one Run at a time (scratch buffers are members); the kernels use `pool`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "base/hash.h"
#include "base/status.h"
#include "base/thread_pool.h"
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
  Status Validate() const;
};

// Views into the mapped weights (nothing owned). Norm weights and biases are F32 vectors.
struct ForwardLayerWeights {
  const float* attn_norm = nullptr;  // [n_embd]
  WeightMatrix wq, wk, wv, wo;       // [q_dim][n_embd], [k_dim][n_embd], [v_dim][n_embd], [n_embd][n_head*Dv]
  const float* bq = nullptr;         // qwen2 biases, or nullptr
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* q_norm = nullptr;     // qwen3 per-head RMSNorm weights [head_dim_k], or nullptr
  const float* k_norm = nullptr;
  const float* ffn_norm = nullptr;   // [n_embd]
  WeightMatrix gate, up, down;       // [n_ff][n_embd], [n_ff][n_embd], [n_embd][n_ff]
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

 private:
  ForwardPass(ForwardConfig config, ForwardWeights weights, KvMemory* memory, KvLayout layout, ForwardOptions options);
  Status RunLayer(int layer, const StepBatch& batch, const std::vector<BlockTable>& tables);
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
  std::vector<AttentionSequence> attn_seqs_;
  int64_t grouped_spans_ = 0;
};

}  // namespace swarmkv
