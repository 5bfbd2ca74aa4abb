// Memory bridge: connects the memory core (memory/kv_memory.h) to the tier manager.
//
//   ConnectTiers(memory, tiers)   every block KvMemory evicts is queued for write-back
//   RestorePrefix(...)            before AttachPrefix: the blocks of a prompt that follow its RAM
//                                 chain are looked up in the tiers, verified and re-inserted into
//                                 RAM as sealed cached blocks (promotion), so the AttachPrefix that
//                                 follows matches them like any cached block.
//   FlushMemoryToTiers(...)       clean shutdown: every cached RAM block is written to the tiers
//                                 (skipping what they already hold) within a deadline.
//
// Invariant: only verified blocks whose identity the memory core recomputes from (namespace,
// parent, tokens) enter RAM; InsertSealedBlock refuses anything whose bytes do not fit the layout.
//
// Thread-safety: as KvMemory and TierManager (both thread-safe). The eviction hook only copies.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "memory/kv_memory.h"
#include "tiers/tier_manager.h"

namespace swarmkv {

EntryLayout EntryLayoutFor(const KvLayout& layout);

// Installs the eviction hook. `tiers` must outlive `memory`'s use of the hook (remove it with
// memory->SetEvictionHook(nullptr) before destroying the manager).
void ConnectTiers(KvMemory* memory, TierManager* tiers);
// The hook ConnectTiers installs, for other sources of sealed blocks to store (the engine's cold
// blocks, engine/cold_kv.h): each call queues the block for write-back; never waits.
EvictionHook TierWriteHook(TierManager* tiers);

struct PrefixRestore {
  int64_t ram_blocks = 0;       // already in RAM
  int64_t restored_blocks = 0;  // inserted from the tiers
  std::vector<int64_t> restored_by_tier;  // of which from tier i (the manager's order)
  bool chose_recompute = false;
};

// Restores up to `max_blocks` blocks of `tokens` beyond the RAM chain. A block that cannot be
// inserted (no room) ends the restore; it is not an error, the engine recomputes.
Result<PrefixRestore> RestorePrefix(KvMemory& memory, TierManager& tiers, const Hash128& namespace_id,
                                    std::span<const int32_t> tokens, int64_t max_blocks = 1 << 20);

struct FlushReport {
  int64_t blocks_evicted = 0;  // cached blocks taken out of RAM (all of them, deadline or not)
  int64_t blocks_queued = 0;   // of which handed to the writer (the rest missed the deadline)
  bool drained = false;        // the writer finished everything queued before the deadline
};

// Evicts every cached (refcount 0) block of `memory` through the tiers — pinned blocks first,
// then the most recently used (KvMemory::EvictOrder::kMostValuableFirst) — waiting for queue room
// instead of dropping, and waits for the writer — all until `deadline_nanos` (MonotonicNanos).
// Past it, the remaining blocks are dropped (counted) and the queue is discarded, so the call is
// bounded. Blocks held by live sequences are not touched. Restores the ConnectTiers hook.
// REQUIRES: `memory` is connected to `tiers` (ConnectTiers).
FlushReport FlushMemoryToTiers(KvMemory& memory, TierManager& tiers, int64_t deadline_nanos);

}  // namespace swarmkv
