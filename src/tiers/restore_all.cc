#include "tiers/restore_all.h"

#include <utility>

namespace swarmkv {

RestoredChain RestoreAll(TierManager& manager, const Hash128& namespace_id, const Hash128& first_parent,
                         std::span<const Hash128> ids, const EntryLayout& layout) {
  std::vector<RestoredBlock> blocks;
  RestoreResult result = manager.RestoreInto(namespace_id, first_parent, ids, layout, [&](const RestoredView& v) {
    RestoredBlock b;
    b.id = v.id;
    b.parent = v.parent;
    b.tokens.assign(v.tokens.begin(), v.tokens.end());
    b.kv_bytes.assign(v.kv_bytes.begin(), v.kv_bytes.end());
    b.state.assign(v.state.begin(), v.state.end());
    b.tier = v.tier;
    blocks.push_back(std::move(b));
    return true;
  });
  RestoredChain chain;
  static_cast<RestoreResult&>(chain) = result;
  chain.blocks = std::move(blocks);
  return chain;
}

}  // namespace swarmkv
