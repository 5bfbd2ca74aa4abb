#include "tiers/memory_bridge.h"

#include "base/sysinfo.h"

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

namespace {

EvictionHook MakeHook(TierManager* tiers, int64_t wait_until_nanos, int64_t* queued) {
  return [tiers, wait_until_nanos, queued](const SealedBlockView& b) {
    if (b.layout == nullptr) return;
    TierBlock t;
    t.namespace_id = b.namespace_id;
    t.id = b.id;
    t.parent = b.parent;
    t.tokens = b.tokens;
    t.kv_bytes = b.kv_bytes;
    t.state = b.recurrent_state;
    t.layout = EntryLayoutFor(*b.layout);
    // Past the deadline a waiting hook stops waiting: OnEvicted drops at once.
    const int64_t wait = wait_until_nanos > MonotonicNanos() ? wait_until_nanos : 0;
    if (tiers->OnEvicted(t, wait) && queued != nullptr) ++*queued;
  };
}

}  // namespace

void ConnectTiers(KvMemory* memory, TierManager* tiers) { memory->SetEvictionHook(MakeHook(tiers, 0, nullptr)); }

EvictionHook TierWriteHook(TierManager* tiers) { return MakeHook(tiers, 0, nullptr); }

FlushReport FlushMemoryToTiers(KvMemory& memory, TierManager& tiers, int64_t deadline_nanos) {
  FlushReport r;
  // The hook runs under the memory's lock, on this thread only (EvictCached), so a plain counter
  // suffices. Waiting there is safe: the writer never calls into KvMemory.
  memory.SetEvictionHook(MakeHook(&tiers, deadline_nanos, &r.blocks_queued));
  const MemoryStats before = memory.Stats();
  // Most valuable first (pinned, then most recently used): if the deadline cuts the flush short,
  // what is dropped is what was least likely to be reused.
  memory.EvictCached(UINT64_MAX, KvMemory::EvictOrder::kMostValuableFirst);
  const MemoryStats after = memory.Stats();
  for (size_t i = 0; i < before.evictions.size(); ++i) r.blocks_evicted += after.evictions[i] - before.evictions[i];
  ConnectTiers(&memory, &tiers);
  r.drained = tiers.FlushUntil(deadline_nanos);
  if (!r.drained) tiers.DropQueued();
  return r;
}

Result<PrefixRestore> RestorePrefix(KvMemory& memory, TierManager& tiers, const Hash128& namespace_id,
                                    std::span<const int32_t> tokens, int64_t max_blocks) {
  PrefixRestore out;
  SKV_ASSIGN_OR_RETURN(PrefixProbe probe, memory.ProbePrefix(namespace_id, tokens, max_blocks));
  out.ram_blocks = probe.cached_blocks;
  if (probe.next_ids.empty()) return out;
  SKV_ASSIGN_OR_RETURN(KvLayout layout, memory.Layout(namespace_id));
  out.restored_by_tier.assign(tiers.stats().tiers.size(), 0);
  Status error;
  // Each verified block goes straight from the restore's read buffer into its pool slot (the one
  // copy after the page cache), while the manager's readers fetch the next ones.
  RestoreResult r = tiers.RestoreInto(namespace_id, probe.last_cached_id, probe.next_ids, EntryLayoutFor(layout),
                                      [&](const RestoredView& b) {
    auto inserted = memory.InsertSealedBlock(namespace_id, b.parent, b.tokens, b.kv_bytes, b.state);
    if (!inserted.ok()) {
      // No room: recompute the rest. Anything else is a caller bug, reported.
      if (inserted.status().code() != StatusCode::kResourceExhausted) error = inserted.status();
      return false;
    }
    if (*inserted) {
      ++out.restored_blocks;
      if (b.tier >= 0 && static_cast<size_t>(b.tier) < out.restored_by_tier.size()) ++out.restored_by_tier[b.tier];
    }
    return true;
  });
  out.chose_recompute = r.chose_recompute;
  if (!error.ok()) return error;
  return out;
}

}  // namespace swarmkv
