// Block and BlockList: the per-block record of the memory core and its intrusive eviction lists.
//
// A Block is the bookkeeping for one slot of the BlockPool. BlockList is an intrusive doubly
// linked list (LevelDB's LRUHandle idea): a block is in at most one list, O(1) to move, no
// allocation. Internal to memory/; other modules see blocks only through KvMemory.
//
// Invariant: `list` names the list the block is linked into (kNone: prev == next == nullptr).
// Thread-safety: none; guarded by KvMemory's mutex.
#pragma once

#include <cstdint>
#include <vector>

#include "base/logging.h"
#include "memory/block_id.h"

namespace swarmkv::internal {

struct NamespaceState;

enum class ListKind : uint8_t { kNone, kLru, kPinned };

struct Block {
  uint8_t* data = nullptr;           // the slot: KV bytes, then the recurrent checkpoint (if any)
  NamespaceState* ns = nullptr;      // owner namespace
  BlockId id;                        // identity, valid when sealed
  BlockId parent;                    // parent identity, valid when sealed
  std::vector<int32_t> tokens;       // the B token ids, when sealed
  int32_t refs = 0;                  // sequences (and transient copies) holding the block
  int32_t name_pins = 0;             // named pins covering the block
  bool sealed = false;               // full, hashed, indexed, immutable
  bool cold = false;                 // sealed, its bytes only on the caller's cold store: no slot, not indexed
  bool has_state = false;            // the slot carries the recurrent checkpoint (SlotOf: its size)
  ListKind list = ListKind::kNone;   // eviction list it sits in (only when refs == 0)
  Block* prev = nullptr;
  Block* next = nullptr;
};

class BlockList {
 public:
  Block* front() const { return front_; }
  Block* back() const { return back_; }
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void PushBack(Block* b, ListKind kind) {
    SKV_DCHECK(b->list == ListKind::kNone);
    b->list = kind;
    b->prev = back_;
    b->next = nullptr;
    if (back_ != nullptr) back_->next = b; else front_ = b;
    back_ = b;
    ++size_;
  }
  // Links `b` just before `pos` (which is in this list): `b` is evicted right before it.
  void InsertBefore(Block* pos, Block* b, ListKind kind) {
    SKV_DCHECK(b->list == ListKind::kNone && pos->list == kind);
    b->list = kind;
    b->next = pos;
    b->prev = pos->prev;
    if (pos->prev != nullptr) pos->prev->next = b; else front_ = b;
    pos->prev = b;
    ++size_;
  }
  void Remove(Block* b) {
    if (b->prev != nullptr) b->prev->next = b->next; else front_ = b->next;
    if (b->next != nullptr) b->next->prev = b->prev; else back_ = b->prev;
    b->prev = b->next = nullptr;
    b->list = ListKind::kNone;
    --size_;
  }
  // Blocks front (evicted first) to back.
  std::vector<Block*> ToVector() const {
    std::vector<Block*> out;
    for (Block* b = front_; b != nullptr; b = b->next) out.push_back(b);
    return out;
  }

 private:
  Block* front_ = nullptr;
  Block* back_ = nullptr;
  int64_t size_ = 0;
};

}  // namespace swarmkv::internal
