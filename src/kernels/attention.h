// Paged causal attention over one sequence's KV, read in place from its blocks.
//
// KV layout: memory/kv_layout.h owns it (docs/conventions.md); the kernels read and write rows
// only through the view KvLayerLayout (kernels/kv_layer_layout.h), which KvLayout::LayerView
// fills for one layer.
//
// Numerics (llama.cpp's flash-attention path): each query head is converted to the vec-dot type
// of the K dtype (f32 -> f32, f16 -> f16, bf16 -> bf16, q8_0/q4_0 -> q8_0, as a matmul would), scores are
// VecDot(K row, q) * scale, softmax is online over blocks in absolute block order, and V rows
// are accumulated in f32.
//
// Invariant: the output for a query depends only on (its q, its absolute position p, the KV
// rows of tokens 0..p) — never on how many other queries are in the call, how the prompt was
// chunked or how threads split the work. Keys are visited block by block from block 0; the
// block boundaries are absolute (multiples of B), so the reduction order is fixed by p alone.
//
// Seams left open (later issues): (1) streaming cold blocks — the kernel only needs a block's
// base pointer when it reaches that block, so a prefetcher can hand pointers over per block;
// (2) shared-prefix (cascade) attention: done in attention_cascade.h — the running state per
// (query, head) is carried across shared and private blocks, so no partials are merged.
//
// Thread-safety: pure over caller buffers; WriteKvRow writes only the token's own rows.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "gguf/tensor_type.h"
#include "kernels/cpu_features.h"
#include "kernels/kv_layer_layout.h"

namespace swarmkv {

struct AttentionParams {
  int n_heads = 0;       // query heads; a multiple of n_kv_heads (grouped-query attention)
  float scale = 0.0f;    // 0 means 1 / sqrt(head_dim_k)
  Isa isa = ActiveIsa();
  ThreadPool* pool = nullptr;
  // f16 V only. true (default): llama.cpp's CPU flash-attention numerics — keys visited one by
  // one, V accumulated in an f16 vector (rounded after every key), exp per key — which the
  // parity tests need (~1e-3 log-prob difference otherwise). false: f32 accumulation per block,
  // spans merged across threads (faster for long contexts, more precise, not llama.cpp's bits).
  bool llama_cpp_f16_v = true;
  // Sliding window (gemma's local layers): > 0 limits the query at position p to the keys in
  // (p - window, p] — llama.cpp's standard SWA mask; the keys outside are skipped, exactly as its
  // flash attention skips -inf mask entries. 0: every key 0..p.
  int64_t window = 0;
  // Attention logit soft-cap (gemma2): > 0 turns a score into softcap * tanhf(dot * (scale /
  // softcap)), the order of llama.cpp's CPU flash attention. 0: dot * scale.
  float softcap = 0.0f;
  // Attention sinks (gpt-oss): n_heads learned logits, one per query head, each joining its
  // head's softmax denominator as a key without value — llama.cpp's flash-attention sinks,
  // applied after the last key (internal::ApplyAttentionSink, attention_spans.h). nullptr: none.
  const float* sinks = nullptr;
};

// The first key position a query at `pos` attends: 0, or pos - window + 1 under a window.
inline int64_t FirstAttendedKey(const AttentionParams& p, int64_t pos) {
  return p.window > 0 && pos >= p.window ? pos - p.window + 1 : 0;
}

// Where block i's base pointer comes from when it is not simply blocks[i]: a cold-tier stream
// (engine/cold_kv_stream.h) that reads blocks from disk ahead of the kernel. Block(i) returns a
// pointer valid until the PagedAttention call returns, waiting for its read if needed; it is
// called from the kernel's worker threads, for any i < num_blocks, in increasing i per task.
// A failed read must still return readable memory (the source reports the error afterwards).
class KvBlockSource {
 public:
  virtual ~KvBlockSource() = default;
  virtual const uint8_t* Block(int64_t i) const = 0;
};

// One sequence's KV for one layer: blocks[i] holds tokens [i*B, (i+1)*B), or, with a source,
// source->Block(i) does (then `blocks` is unused and layout offsets are relative to its pointers).
struct PagedKv {
  const uint8_t* const* blocks = nullptr;
  int64_t num_blocks = 0;
  KvLayerLayout layout;
  const KvBlockSource* source = nullptr;
};

// out[i] = attention of query i (n_heads * Dk floats at q + i * q_stride) at absolute position
// positions[i] over KV tokens [FirstAttendedKey, positions[i]] (causal), written as n_heads * Dv floats at
// out + i * out_stride. REQUIRES the KV rows of those tokens to be written already.
Status PagedAttention(const AttentionParams& params, const PagedKv& kv, const float* q,
                      int64_t q_stride, const int64_t* positions, int64_t n_queries, float* out,
                      int64_t out_stride);

// Converts and stores the K and V rows of one token (n_kv_heads * Dk and n_kv_heads * Dv floats)
// into slot `slot` (0..B-1) of the block at `block`: f32 as is, f16/bf16 round to nearest even, q8_0 as
// llama.cpp's CPU path quantizes KV, q4_0 with the reference quantizer.
Status WriteKvRow(const KvLayerLayout& layout, uint8_t* block, int slot, const float* k,
                  const float* v);

}  // namespace swarmkv
