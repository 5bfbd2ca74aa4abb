// Test-only: TierManager::RestoreInto collected into owned blocks, for tests and benchmarks that
// want the whole restored chain at once (production restores stream into the pool through
// memory_bridge.h and never hold a copy).
//
// Thread-safety: as TierManager::RestoreInto.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tiers/tier_manager.h"

namespace swarmkv {

// One restored block, owning its bytes.
struct RestoredBlock {
  Hash128 id;
  Hash128 parent;
  std::vector<int32_t> tokens;
  std::vector<uint8_t> kv_bytes;
  std::vector<uint8_t> state;
  int tier = 0;  // index in options.tiers
};

// RestoreInto's result plus the blocks: a chain starting at ids[0]; may be shorter than ids.
struct RestoredChain : RestoreResult {
  std::vector<RestoredBlock> blocks;
};

RestoredChain RestoreAll(TierManager& manager, const Hash128& namespace_id, const Hash128& first_parent,
                         std::span<const Hash128> ids, const EntryLayout& layout);

}  // namespace swarmkv
