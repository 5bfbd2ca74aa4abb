// Memory bridge: connects the memory core (memory/kv_memory.h) to the tier manager.
//
//   ConnectTiers(memory, tiers)   every block KvMemory evicts is queued for write-back
//   RestorePrefix(...)            before AttachPrefix: the blocks of a prompt that follow its RAM
//                                 chain are looked up in the tiers, verified and re-inserted into
//                                 RAM as sealed cached blocks (promotion), so the AttachPrefix that
//                                 follows matches them like any cached block.
//
// Invariant: only verified blocks whose identity the memory core recomputes from (namespace,
// parent, tokens) enter RAM; InsertSealedBlock refuses anything whose bytes do not fit the layout.
//
// Thread-safety: as KvMemory and TierManager (both thread-safe). The eviction hook only copies.
#pragma once

#include <cstdint>
#include <span>

#include "memory/kv_memory.h"
#include "tiers/tier_manager.h"

namespace swarmkv {

EntryLayout EntryLayoutFor(const KvLayout& layout);

// Installs the eviction hook. `tiers` must outlive `memory`'s use of the hook (remove it with
// memory->SetEvictionHook(nullptr) before destroying the manager).
void ConnectTiers(KvMemory* memory, TierManager* tiers);

struct PrefixRestore {
  int64_t ram_blocks = 0;       // already in RAM
  int64_t restored_blocks = 0;  // inserted from the tiers
  bool chose_recompute = false;
};

// Restores up to `max_blocks` blocks of `tokens` beyond the RAM chain. A block that cannot be
// inserted (no room) ends the restore; it is not an error, the engine recomputes.
Result<PrefixRestore> RestorePrefix(KvMemory& memory, TierManager& tiers, const Hash128& namespace_id,
                                    std::span<const int32_t> tokens, int64_t max_blocks = 1 << 20);

}  // namespace swarmkv
