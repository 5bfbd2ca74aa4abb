// Test-only: synthetic KV blocks for the tiers' tests and benchmarks, which store and restore
// blocks without running a model.
//
// Distribution (an approximation of real attention K/V, stated so ratios can be judged): each
// (layer, head, channel) has its own scale drawn log-uniformly in [0.05, 4] (real K has a few
// large "outlier" channels), values are Gaussian with that scale, stored as IEEE f16. Such data
// compresses mostly through the f16 exponent byte; random mantissas do not compress.
//
// Thread-safety: pure functions (deterministic in the seed).
#pragma once

#include <cstdint>
#include <vector>

#include "tiers/entry_format.h"
#include "tiers/tier_manager.h"

namespace swarmkv {

// The SmolLM2-135M KV geometry: 30 layers, 3 KV heads, head dim 64, f16, 32-token blocks.
EntryLayout SmolLm2KvLayout();

// One block's KV bytes in the conventions' layout for `layout` (f16 only).
std::vector<uint8_t> SyntheticKvBlock(const EntryLayout& layout, uint64_t seed);

// Meta for a chain: block `index` of a sequence in `namespace_id`, tokens seeded by `index`.
EntryMeta SyntheticMeta(const EntryLayout& layout, const Hash128& namespace_id, const Hash128& parent,
                        uint64_t seed);

// A chain of `n` synthetic blocks in `namespace_id`: block i has SyntheticMeta and
// SyntheticKvBlock of seed `seed + i` and block i - 1 as its parent.
struct SyntheticChain {
  SyntheticChain(int n, const Hash128& namespace_id, uint64_t seed);
  // Block i as the tier manager takes it (views into this chain).
  TierBlock Block(int i) const;
  std::vector<Hash128> Ids() const;

  EntryLayout layout = SmolLm2KvLayout();
  std::vector<EntryMeta> metas;
  std::vector<std::vector<uint8_t>> kv;
};

}  // namespace swarmkv
