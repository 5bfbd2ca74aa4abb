#include "tiers/memory_bridge.h"

namespace swarmkv {

EntryLayout EntryLayoutFor(const KvLayout& layout) {
  const KvShape& s = layout.shape();
  EntryLayout e;
  e.k_type = static_cast<uint32_t>(s.k_type);
  e.v_type = static_cast<uint32_t>(s.v_type);
  e.num_layers = static_cast<uint32_t>(s.num_layers);
  e.num_kv_heads = static_cast<uint32_t>(s.num_kv_heads);
  e.head_dim_k = static_cast<uint32_t>(s.head_dim_k);
  e.head_dim_v = static_cast<uint32_t>(s.head_dim_v);
  e.block_tokens = static_cast<uint32_t>(s.block_tokens);
  e.layer_bytes = layout.layer_bytes();
  return e;
}

void ConnectTiers(KvMemory* memory, TierManager* tiers) {
  memory->SetEvictionHook([tiers](const EvictedBlock& b) {
    if (b.layout == nullptr) return;
    TierBlock t;
    t.namespace_id = b.namespace_id;
    t.id = b.id;
    t.parent = b.parent;
    t.tokens = b.tokens;
    t.kv_bytes = b.kv_bytes;
    t.state = b.recurrent_state;
    t.layout = EntryLayoutFor(*b.layout);
    tiers->OnEvicted(t);
  });
}

Result<PrefixRestore> RestorePrefix(KvMemory& memory, TierManager& tiers, const Hash128& namespace_id,
                                    std::span<const int32_t> tokens, int64_t max_blocks) {
  PrefixRestore out;
  SKV_ASSIGN_OR_RETURN(PrefixProbe probe, memory.ProbePrefix(namespace_id, tokens, max_blocks));
  out.ram_blocks = probe.cached_blocks;
  if (probe.next_ids.empty()) return out;
  SKV_ASSIGN_OR_RETURN(KvLayout layout, memory.Layout(namespace_id));
  RestoreResult r = tiers.Restore(namespace_id, probe.last_cached_id, probe.next_ids, EntryLayoutFor(layout));
  out.chose_recompute = r.chose_recompute;
  for (const RestoredBlock& b : r.blocks) {
    auto inserted = memory.InsertSealedBlock(namespace_id, b.parent, b.tokens, b.kv_bytes, b.state);
    if (!inserted.ok()) {
      if (inserted.status().code() == StatusCode::kResourceExhausted) break;  // no room: recompute the rest
      return inserted.status();
    }
    if (*inserted) ++out.restored_blocks;
  }
  return out;
}

}  // namespace swarmkv
