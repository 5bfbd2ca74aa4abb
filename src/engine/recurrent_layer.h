// RecurrentLayer: the seam between the forward pass and a state-carrying layer of a hybrid model
// (LFM2's gated short convolution, Mamba-2's SSD mixer, ...). The forward pass owns the state
// bookkeeping — the live state of every running sequence, the checkpoints at block boundaries in
// the swarm memory (KvMemory::MutableRecurrentState), restore at a prefix hit — and a layer only
// maps (normed input rows, state before) -> (output rows, state after, snapshots).
//
// How a hybrid model runs (engine/forward.cc):
//   per layer l: xn = RMSNorm(x, attn_norm) ->
//       attention layer: as for a dense model (its KV in the attention-only KvLayout), or
//       recurrent layer: Forward(xn rows of every span) -> out rows
//   -> x += out -> FFN (optional: a layer without ffn weights skips it) -> x += ffn.
// A step's spans each carry: the layer's state before the span's first token (`state_in`, the
// live state or the checkpoint restored at a prefix hit; zeros for a fresh sequence), where to
// write the state after its last token (`state_out`, never the same memory as state_in, so a
// failed step leaves the live state untouched and is simply rerun), and the token indices after
// which the state must be copied into a block's checkpoint area (every block boundary the span
// passes: position p with (p + 1) % block_tokens == 0).
//
// Invariant a layer must keep (it is what makes cached == recomputed, bit for bit): the output
// row of token t and the state after token t depend only on the layer's weights, the state
// before the span and the span's input rows up to t — never on the other spans of the batch,
// on how the sequence's tokens were split into spans/steps, on the thread count or on where
// state_in came from. Concretely: reduce in one fixed order per (sequence, token); the SIMD
// levels (SWARMKV_KERNELS=scalar|avx2|avx512) give the same bits; a prefill span computes the
// same recurrence a run of one-token decode spans computes. The state bytes are a plain array
// (f32 in the layer's own layout) that is stored in blocks, written to disk and Redis, and read
// back on another process of the same KV namespace (kernel numerics are part of the namespace).
//
// To add a recurrent layer type (h19m: Mamba-2): implement this interface, then return it from
// MakeRecurrentLayer (engine/recurrent_layers.cc) for the layers the hparams mark recurrent
// (ModelHParams::recurrent_layers). Nothing else in the engine changes: the runner registers
// the namespace with each recurrent layer's state_bytes() and the forward pass does the rest.
//
// Thread-safety: a layer belongs to one ForwardPass and is called by one thread at a time (it may
// keep scratch buffers); it may use ctx.pool inside Forward.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/cpu_features.h"

namespace swarmkv {

// A copy of the state after token `index` of a span, to be written to `dest` (state_bytes()).
struct RecurrentSnapshot {
  int32_t index = 0;      // token index inside the span, 0 <= index < num_tokens
  uint8_t* dest = nullptr;
};

// One sequence's rows in the step, as one recurrent layer sees them.
struct RecurrentSpan {
  int64_t first_row = 0;       // batch row of the span's first token (rows of xn / out)
  int32_t num_tokens = 0;      // >= 1
  int64_t first_position = 0;  // the sequence position of that token (informational)
  const uint8_t* state_in = nullptr;  // state_bytes(): the state before the first token
  uint8_t* state_out = nullptr;       // state_bytes(): receives the state after the last token
  std::span<const RecurrentSnapshot> snapshots;  // in increasing index order
};

struct RecurrentContext {
  ThreadPool* pool = nullptr;  // nullptr: single-threaded
  Isa isa = Isa::kScalar;      // the kernel level (same bits at every level)
};

class RecurrentLayer {
 public:
  virtual ~RecurrentLayer() = default;
  // Bytes of this layer's state for one sequence: the live state and each block's checkpoint
  // slice (KvMemory's recurrent_bytes_per_layer entry). Constant for the layer's life.
  virtual uint64_t state_bytes() const = 0;
  // For error messages and docs: "shortconv", "mamba2".
  virtual std::string kind() const = 0;
  // Runs the layer over every span: xn holds T = sum of num_tokens rows of n_embd floats
  // (row stride n_embd), out receives T rows of n_embd floats (the block output added to the
  // residual stream). On error the forward pass commits nothing and keeps the live states.
  virtual Status Forward(const RecurrentContext& ctx, const float* xn, int64_t T,
                         std::span<const RecurrentSpan> spans, float* out) = 0;
};

}  // namespace swarmkv
