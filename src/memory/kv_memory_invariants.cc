// KvMemory::CheckInvariants: verifies every invariant kv_memory.h lists, from scratch (refcounts
// recounted from the sequences, bytes from the live blocks, pins from the pin table). O(blocks);
// for tests and debugging, not for a hot path.
#include <algorithm>

#include "memory/kv_memory.h"
#include "memory/kv_memory_impl.h"

namespace swarmkv {

using internal::Block;
using internal::CeilDiv;
using internal::ListKind;
using internal::NamespaceState;
using internal::SlotOf;

Status KvMemory::CheckInvariants() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->CheckLocked();
}

Status KvMemory::Impl::CheckLocked() const {
  SKV_RETURN_IF_ERROR(pool->CheckInvariants());
  std::unordered_map<const Block*, int64_t> refs;
  for (const auto& [id, s] : sequences) {
    const std::string where = "sequence " + std::to_string(id) + ": ";
    const int64_t bt = s->ns->block_tokens;
    const int64_t len = static_cast<int64_t>(s->tokens.size());
    if (s->reserved < len) return InternalError(where + "reserved < length");
    if (s->cold != std::count_if(s->blocks.begin(), s->blocks.end(), [](const Block* b) { return b->cold; })) {
      return InternalError(where + "cold block count drifted");
    }
    if (static_cast<int64_t>(s->blocks.size()) != CeilDiv(s->reserved, bt)) {
      return InternalError(where + std::to_string(s->blocks.size()) + " blocks for " + std::to_string(s->reserved) + " reserved positions");
    }
    BlockId parent;
    for (size_t i = 0; i < s->blocks.size(); ++i) {
      Block* b = s->blocks[i];
      if (!blocks.contains(b)) return InternalError(where + "references a freed block");
      if (b->ns != s->ns) return InternalError(where + "holds a block of another namespace");
      ++refs[b];
      const int64_t start = static_cast<int64_t>(i) * bt;
      if (start + bt <= len) {
        if (!b->sealed) return InternalError(where + "full block " + std::to_string(i) + " is not sealed");
        std::span<const int32_t> toks(s->tokens.data() + start, static_cast<size_t>(bt));
        if (b->parent != parent || b->id != ComputeBlockId(s->ns->options.id, parent, toks)) {
          return InternalError(where + "block " + std::to_string(i) + " does not chain from its parent");
        }
        if (!std::equal(toks.begin(), toks.end(), b->tokens.begin())) {
          return InternalError(where + "block " + std::to_string(i) + " holds other tokens");
        }
        parent = b->id;
      } else if (start < len) {
        if (b->sealed && !std::equal(s->tokens.begin() + start, s->tokens.end(), b->tokens.begin())) {
          return InternalError(where + "shared partial tail holds other tokens");
        }
        if (s->reserved > len && (b->sealed || b->refs != 1)) return InternalError(where + "reserved tail is not private");
      } else if (b->sealed || b->refs != 1) {
        return InternalError(where + "reserved block " + std::to_string(i) + " is not private");
      }
    }
    if (s->cow_source != nullptr) ++refs[s->cow_source];
  }
  for (const Block* b : transient) ++refs[b];
  uint64_t used = 0, evictable = 0;
  for (const Block* b : blocks) {
    if (b->cold) {
      if (b->data != nullptr || !b->sealed || b->refs != 1 || b->list != ListKind::kNone || b->name_pins != 0) {
        return InternalError("cold block " + b->id.ToHex() + " has a slot, is shared, pinned or cached");
      }
      if (refs.contains(b) ? refs.at(b) != 1 : true) return InternalError("cold block " + b->id.ToHex() + " is not held once");
      continue;
    }
    used += SlotOf(b);
    const int64_t want = refs.contains(b) ? refs.at(b) : 0;
    if (b->refs != want) {
      return InternalError("block " + b->id.ToHex() + " has refcount " + std::to_string(b->refs) + " but " +
                           std::to_string(want) + " holders");
    }
    if (b->refs == 0) {
      if (!b->sealed) return InternalError("an unsealed block is held by nobody");
      const ListKind want_list = b->name_pins > 0 ? ListKind::kPinned : ListKind::kLru;
      if (b->list != want_list) return InternalError("cached block " + b->id.ToHex() + " is not in its eviction list");
      evictable += SlotOf(b);
    } else if (b->list != ListKind::kNone) {
      return InternalError("block " + b->id.ToHex() + " is held but sits in an eviction list");
    }
    if (b->sealed) {
      auto it = b->ns->index.find(b->id);
      if (it == b->ns->index.end() || it->second != b) return InternalError("sealed block " + b->id.ToHex() + " is not its index entry");
      if (static_cast<int64_t>(b->tokens.size()) != b->ns->block_tokens) return InternalError("sealed block without B tokens");
    }
  }
  if (used != pool->used_bytes()) return InternalError("pool bytes in use differ from the live blocks' slots");
  if (evictable != evictable_bytes) return InternalError("evictable bytes drifted");
  if (lru.size() + pinned.size() != static_cast<int64_t>(std::count_if(blocks.begin(), blocks.end(), [](const Block* b) { return b->refs == 0; }))) {
    return InternalError("eviction lists hold blocks that are not cached");
  }
  std::unordered_map<const NamespaceState*, std::unordered_map<BlockId, int32_t, Hash128Hasher>> wanted;
  for (const auto& [name, pin] : pins) {
    for (const BlockId& id : pin.ids) ++wanted[pin.ns][id];
  }
  for (const auto& [id, ns] : namespaces) {
    size_t children = 0;
    for (const auto& [parent, list] : ns->children) {
      for (Block* c : list) {
        if (!blocks.contains(c) || !c->sealed || c->parent != parent) return InternalError("children list is stale");
      }
      children += list.size();
    }
    if (children != ns->index.size()) return InternalError("children lists and the index disagree");
    if (ns->pin_wanted != wanted[ns.get()]) return InternalError("pinned identities differ from the pins");
    for (const auto& [bid, b] : ns->index) {
      if (!blocks.contains(b) || b->id != bid || b->ns != ns.get()) return InternalError("index entry is stale");
      auto w = ns->pin_wanted.find(bid);
      if (b->name_pins != (w == ns->pin_wanted.end() ? 0 : w->second)) {
        return InternalError("block pin count differs from the pins naming it");
      }
    }
  }
  return Status::OK();
}

}  // namespace swarmkv
