// KvMemory::Impl: the state behind KvMemory and the *Locked helpers its source files share.
//
// Internal to memory/; other modules see KvMemory (memory/kv_memory.h) only. KvMemory's
// implementation is split by concept: kv_memory.cc (the core: block lifecycle, matching,
// sequences, restore), kv_memory_pins.cc (named, TTL'd pins), kv_memory_stats.cc (Stats,
// MostSharedPrefixes, DebugString) and kv_memory_invariants.cc (CheckInvariants).
//
// Invariants: those of kv_memory.h, which CheckLocked() verifies.
// Thread-safety: every member below `mu` is guarded by it, and every *Locked method requires it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/sysinfo.h"
#include "memory/block_list.h"
#include "memory/block_pool.h"
#include "memory/kv_memory.h"

namespace swarmkv {

namespace internal {

struct NamespaceState {
  // Constant after registration.
  NamespaceOptions options;
  KvLayout layout;
  uint64_t kv_bytes = 0;     // layout.block_bytes()
  uint64_t state_bytes = 0;  // recurrent checkpoint bytes of a block that carries one
  uint64_t slot_bytes = 0;   // BlockPool::SlotBytes(kv_bytes + state_bytes): a block with a checkpoint
  uint64_t kv_slot_bytes = 0;  // BlockPool::SlotBytes(kv_bytes), 0 without KV: a block without one
  int32_t block_tokens = 0;
  int32_t checkpoint_interval = 1;  // options.checkpoint_interval_blocks (>= 1)

  // ---- Which blocks carry a recurrent checkpoint (the namespace's policy; a restored block
  // keeps whatever its tier entry carried, Block::has_state).
  // Block `index` of a sequence gets one when the namespace has state and index + 1 is a
  // multiple of the interval (the first checkpoint after k blocks, none at position 0).
  bool CheckpointAt(int64_t index) const { return state_bytes > 0 && (index + 1) % checkpoint_interval == 0; }
  uint64_t SlotBytesFor(bool has_state) const { return has_state ? slot_bytes : kv_slot_bytes; }
  // Slot bytes of new blocks [first, end) under the policy (closed form: Reserve, PlanReserve).
  uint64_t SlotBytesOfBlocks(int64_t first, int64_t end) const {
    if (end <= first) return 0;
    const int64_t with = state_bytes == 0 ? 0 : end / checkpoint_interval - first / checkpoint_interval;
    return static_cast<uint64_t>(with) * slot_bytes + static_cast<uint64_t>(end - first - with) * kv_slot_bytes;
  }

  // Guarded by KvMemory's mutex.
  std::unordered_map<BlockId, Block*, Hash128Hasher> index;                  // sealed blocks
  std::unordered_map<BlockId, std::vector<Block*>, Hash128Hasher> children;  // parent -> sealed blocks
  // Identities named by pins (count of pins naming each), resident or not: a block sealed or
  // restored later under a pinned prefix is pinned from birth. Block::name_pins mirrors this.
  std::unordered_map<BlockId, int32_t, Hash128Hasher> pin_wanted;
  NamespaceStats counters;  // only the counter fields are kept here; the rest is computed
};

struct Sequence {
  SequenceId id = 0;
  NamespaceState* ns = nullptr;
  std::vector<int32_t> tokens;  // committed token ids: Length() == tokens.size()
  std::vector<Block*> blocks;   // covers [0, max(len, reserved)), one ref each
  int64_t reserved = 0;         // positions [0, reserved) have blocks; >= len
  int64_t cold = 0;             // blocks made cold (MakeBlockCold): held, but no slot in the budget
  Block* cow_source = nullptr;  // a ref held while its rows are copied outside the lock
};

struct Pin {
  NamespaceState* ns = nullptr;
  std::vector<BlockId> ids;
  int64_t expires_at_nanos = 0;  // 0: never
};

inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The bytes `b` takes from the budget.
inline uint64_t SlotOf(const Block* b) { return b->ns->SlotBytesFor(b->has_state); }

// Hybrid namespaces: how many leading blocks of `blocks` end at a recurrent checkpoint a
// sequence can continue from — up to and including the last block with has_state (0: none).
// Prefix matches and truncation both roll back to it.
inline size_t CheckpointedPrefix(std::span<Block* const> blocks) {
  for (size_t n = blocks.size(); n > 0; --n)
    if (blocks[n - 1]->has_state) return n;
  return 0;
}

inline std::string Bytes(uint64_t v) { return std::to_string(v) + " bytes"; }

}  // namespace internal

class KvMemory::Impl {
 public:
  using Block = internal::Block;
  using BlockList = internal::BlockList;
  using NamespaceState = internal::NamespaceState;
  using Sequence = internal::Sequence;
  using Pin = internal::Pin;

  // Constant after construction.
  KvMemoryOptions options;
  std::unique_ptr<BlockPool> pool;

  // State below is protected by mu.
  mutable std::mutex mu;
  std::unordered_map<Hash128, std::unique_ptr<NamespaceState>, Hash128Hasher> namespaces;
  std::unordered_map<SequenceId, std::unique_ptr<Sequence>> sequences;
  SequenceId next_sequence = 1;
  std::unordered_set<Block*> blocks;     // every live block (owned; deleted when freed)
  // Blocks held outside the lock, one entry per hold: restored blocks being filled (refs 1) and
  // sealed blocks being copied out by VisitSealedBlock.
  std::unordered_multiset<Block*> transient;
  BlockList lru;                         // refs == 0, no named pin: evicted first, front first
  BlockList pinned;                      // refs == 0, named pin: evicted last, front first
  uint64_t evictable_bytes = 0;          // slot bytes of blocks in lru + pinned
  std::map<std::string, Pin> pins;
  EvictionHook hook;
  SealHook seal_hook;
  std::array<int64_t, kNumEvictionReasons> evictions{};

  int64_t Now() const { return options.clock_nanos ? options.clock_nanos() : MonotonicNanos(); }

  Result<NamespaceState*> FindNamespaceLocked(const Hash128& id) const {
    auto it = namespaces.find(id);
    if (it == namespaces.end()) return NotFoundError("KV namespace " + id.ToHex() + " is not registered");
    return it->second.get();
  }
  Result<Sequence*> FindSequenceLocked(SequenceId id) const {
    auto it = sequences.find(id);
    if (it == sequences.end()) return NotFoundError("KV sequence " + std::to_string(id) + " does not exist");
    if (it->second->cow_source != nullptr) {
      return FailedPreconditionError("KV sequence " + std::to_string(id) + " is in use by another call (calls on one sequence must not overlap)");
    }
    return it->second.get();
  }
  // The namespace's block size, read without holding the lock for long (shapes never change).
  Result<NamespaceState*> NamespaceOf(const Hash128& id) const {
    std::lock_guard<std::mutex> lock(mu);
    return FindNamespaceLocked(id);
  }


  // ---- Block lifecycle (kv_memory.cc)
  // A private block of `ns` (refs 1), with a checkpoint area when `has_state`; its slot may be
  // empty (data nullptr) for a state-only namespace's block without one. nullptr: over budget.
  Block* NewBlockLocked(NamespaceState* ns, bool has_state);
  void FreeBlockLocked(Block* b);
  void AddRefLocked(Block* b);
  void MakeCachedLocked(Block* b);
  void DropRefLocked(Block* b);
  void UnindexLocked(Block* b);
  // What the eviction hook and VisitSealedBlock see of a sealed block (views into its slot).
  static SealedBlockView ViewLocked(const Block* b, EvictionReason reason);
  void EvictLocked(Block* b, EvictionReason reason);
  // Evicts until `bytes` more fit in the budget. False (and nothing evicted) when impossible.
  bool MakeRoomLocked(uint64_t bytes);

  // ---- Pins (kv_memory_pins.cc)
  void SetPinLocked(Block* b, int delta);
  void UnpinLocked(std::map<std::string, Pin>::iterator it);
  // A block just entered the index: it inherits the pins naming its identity.
  void InheritPinsLocked(Block* b);
  void ExpirePinsLocked();

  // ---- Matching and sealing (kv_memory.cc)
  // The cached chain for precomputed `ids` (the prompt's full blocks): stops at the first miss.
  std::vector<Block*> ChainLocked(NamespaceState* ns, const std::vector<BlockId>& ids,
                                  std::span<const int32_t> tokens) const;
  // The cached child of `parent` sharing the longest (>0, <B) token prefix with `rest`.
  Block* BestPartialLocked(NamespaceState* ns, const BlockId& parent, std::span<const int32_t> rest,
                           int64_t* matched) const;
  void SealLocked(Sequence* s, size_t i);
  // Drops blocks [keep, end) of s, last first.
  void DropBlocksFromLocked(Sequence* s, size_t keep);

  // ---- Invariants (kv_memory_invariants.cc)
  Status CheckLocked() const;
};

}  // namespace swarmkv
