// Checkpoint interval: how often a hybrid model's KV blocks carry the recurrent-state checkpoint
// (every k-th block, NamespaceOptions::checkpoint_interval_blocks), chosen by a cost model.
//
// The trade (docs/memory.md "Hybrid models"): a checkpoint of S bytes (every recurrent layer's
// state) costs budget and bytes moved; a prefix hit that ends between two checkpoints rolls back
// to the earlier one and recomputes what lies after it, (k - 1) / 2 blocks on average. This is
// Young and Daly's checkpoint-interval problem, with R = the time to recompute one block:
//
//   cost per block (k)  =  C / k  +  (k - 1) / 2 * R          (one hit per cached block)
//   minimised at        k* = sqrt(2 C / R),   k = clamp(round(k*), 1, max_interval)
//
//   C = S * R / K'                     budget: under pressure a checkpoint's S bytes evict S bytes
//                                      of other cached blocks, each byte of which saved R / K' of
//                                      recompute (K' = a block's KV bytes, K; S when the model has
//                                      no KV layer: its blocks are checkpoints)
//     + S / copy_Bps + 2 S / tier_Bps  bytes moved: the copy into the slot at the block boundary,
//                                      the write-back on eviction and the read on a restore
//
// so 2 C / R = 2 S / K' + 2 S (1 / copy_Bps + 2 / tier_Bps) / R. The budget term dominates on a
// CPU (recompute is slow next to a copy): granite-4.0-h-350m, S = 21.6 MiB, K = 128 KiB gives
// k* = 18.6 -> 16 (the cap); LFM2-350M, S = 80 KiB, K = 384 KiB gives 1 (every block: its
// state is small next to its KV). max_interval bounds the worst hit: (max - 1) blocks recomputed.
// R is the measured prefill speed when known; unknown (0), the bytes-moved term is left out.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace swarmkv {

struct CheckpointCostInputs {
  uint64_t state_bytes = 0;           // S: one checkpoint (every recurrent layer); 0: no state
  uint64_t kv_bytes_per_block = 0;    // K: the attention layers' KV of one block (0: none)
  int32_t block_tokens = 32;          // B
  double prefill_tokens_per_second = 0;  // R = B / this; 0: unmeasured (bytes-moved term left out)
  double copy_bytes_per_second = 8e9;    // memcpy of the state into the block's slot
  double tier_bytes_per_second = 1e9;    // disk tier write-back and restore (compressed, checksummed)
  int32_t max_interval = 16;             // the worst hit recomputes max_interval - 1 blocks
};

struct CheckpointInterval {
  int32_t blocks = 1;        // k: block i carries a checkpoint when (i + 1) % k == 0
  double optimum = 1;        // k* before rounding and the cap
  std::string DebugString() const;
};

// k by the cost model above; 1 for a model without state.
CheckpointInterval ChooseCheckpointInterval(const CheckpointCostInputs& in);

// The interval a runner registers: `requested` (> 0, `serve --kv-checkpoint-interval`) as is,
// else the cost model's.
int32_t CheckpointIntervalBlocks(int32_t requested, const CheckpointCostInputs& in);

}  // namespace swarmkv
