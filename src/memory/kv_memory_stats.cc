// KvMemory's read-only reports: Stats (counts and bytes per namespace), MostSharedPrefixes (for
// /api/kv) and DebugString. Each walks the live blocks under the mutex.
#include <algorithm>
#include <sstream>

#include "memory/kv_memory.h"
#include "memory/kv_memory_impl.h"

namespace swarmkv {

using internal::Block;
using internal::NamespaceState;
using internal::SlotOf;

std::string_view EvictionReasonName(EvictionReason reason) {
  switch (reason) {
    case EvictionReason::kBudget: return "budget";
    case EvictionReason::kPinnedUnderPressure: return "pinned";
    case EvictionReason::kExplicit: return "explicit";
  }
  return "unknown";
}

MemoryStats KvMemory::Stats() const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  MemoryStats st;
  st.budget_bytes = m.pool->budget_bytes();
  st.used_bytes = m.pool->used_bytes();
  st.committed_bytes = m.pool->committed_bytes();
  st.pins = static_cast<int64_t>(m.pins.size());
  st.evictions = m.evictions;
  std::unordered_map<const NamespaceState*, NamespaceStats> by_ns;
  for (const auto& [id, ns] : m.namespaces) {
    NamespaceStats n = ns->counters;
    n.slot_bytes = ns->slot_bytes;
    if (ns->state_bytes > 0) n.checkpoint_interval_blocks = ns->checkpoint_interval;
    by_ns.emplace(ns.get(), std::move(n));
  }
  for (const Block* b : m.blocks) {
    if (b->cold) continue;  // no slot: its bytes are on the caller's cold store
    NamespaceStats& n = by_ns[b->ns];
    if (b->has_state) ++n.blocks_with_checkpoint;
    if (b->refs > 0) {
      ++n.blocks_in_use;
      n.bytes_in_use += SlotOf(b);
      if (!b->sealed) ++n.blocks_private;
    } else {
      ++n.blocks_cached;
      n.bytes_cached += SlotOf(b);
    }
    if (b->name_pins > 0) {
      ++n.blocks_pinned;
      n.bytes_pinned += SlotOf(b);
    }
  }
  for (auto& [ns, n] : by_ns) st.namespaces.push_back(std::move(n));
  std::sort(st.namespaces.begin(), st.namespaces.end(),
            [](const NamespaceStats& a, const NamespaceStats& b) { return a.name < b.name || (a.name == b.name && a.id < b.id); });
  return st;
}

std::vector<SharedPrefix> KvMemory::MostSharedPrefixes(size_t max) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  std::vector<SharedPrefix> out;
  for (const auto& [ns_id, ns_ptr] : m.namespaces) {
    const NamespaceState* ns = ns_ptr.get();  // (a lambda cannot capture a structured binding in C++20)
    std::unordered_map<BlockId, int64_t, Hash128Hasher> depth;  // blocks from the sequence start
    auto depth_of = [&](const Block* b) {
      // Walk up to the first block of known depth (or the root), then fill in on the way back.
      std::vector<const Block*> chain;
      int64_t d = 0;
      for (const Block* p = b; p != nullptr;) {
        if (auto it = depth.find(p->id); it != depth.end()) {
          d = it->second;
          break;
        }
        chain.push_back(p);
        if (p->parent.IsZero()) break;
        auto pit = ns->index.find(p->parent);
        p = pit == ns->index.end() ? nullptr : pit->second;
      }
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) depth[(*it)->id] = ++d;
      return d;
    };
    for (const auto& [id, b] : ns->index) {
      if (b->refs < 2) continue;
      bool longer_with_as_many = false;
      if (auto cit = ns->children.find(id); cit != ns->children.end()) {
        for (const Block* c : cit->second) longer_with_as_many |= c->refs >= b->refs;
      }
      if (longer_with_as_many) continue;
      SharedPrefix p;
      p.namespace_id = ns_id;
      p.namespace_name = ns->options.name;
      p.last_block = id;
      const int64_t blocks = depth_of(b);
      p.tokens = blocks * ns->block_tokens;
      p.sequences = b->refs;
      p.bytes = ns->SlotBytesOfBlocks(0, blocks);  // under the checkpoint policy
      p.bytes_saved = static_cast<uint64_t>(b->refs - 1) * p.bytes;
      p.pinned = b->name_pins > 0;
      out.push_back(std::move(p));
    }
  }
  std::sort(out.begin(), out.end(), [](const SharedPrefix& a, const SharedPrefix& b) {
    if (a.bytes_saved != b.bytes_saved) return a.bytes_saved > b.bytes_saved;
    return a.last_block < b.last_block;
  });
  if (out.size() > max) out.resize(max);
  return out;
}

std::string KvMemory::DebugString() const {
  Impl& m = *impl_;
  MemoryStats st = Stats();
  std::lock_guard<std::mutex> lock(m.mu);
  std::ostringstream os;
  os << "KvMemory budget=" << st.budget_bytes << " used=" << st.used_bytes << " committed=" << st.committed_bytes
     << " sequences=" << m.sequences.size() << " blocks=" << m.blocks.size() << " lru=" << m.lru.size()
     << " pinned=" << m.pinned.size() << " pins=" << m.pins.size() << "\n";
  for (const NamespaceStats& n : st.namespaces) {
    os << "  ns " << n.name << " " << n.id.ToHex().substr(0, 12) << " slot=" << n.slot_bytes << " seqs=" << n.sequences
       << " in_use=" << n.blocks_in_use << " private=" << n.blocks_private << " cached=" << n.blocks_cached
       << " pinned=" << n.blocks_pinned << " hit=" << n.prefix_tokens_hit << " computed=" << n.prefix_tokens_computed
       << " evicted=" << n.evictions[0] << "/" << n.evictions[1] << "/" << n.evictions[2] << "\n";
  }
  for (const auto& [id, s] : m.sequences) {
    os << "  seq " << id << " ns=" << s->ns->options.name << " len=" << s->tokens.size() << " reserved=" << s->reserved
       << " blocks=[";
    for (size_t i = 0; i < s->blocks.size(); ++i) {
      const Block* b = s->blocks[i];
      os << (i ? " " : "") << (b->sealed ? b->id.ToHex().substr(0, 6) : "private") << "/r" << b->refs;
    }
    os << "]\n";
  }
  os << m.pool->DebugString();
  return os.str();
}

}  // namespace swarmkv
