// BlockPool: the one byte budget for every namespace's KV blocks, on elastic host memory.
//
// The pool reserves virtual address space up front (PROT_NONE: no RAM, no commit charge) and
// makes it readable/writable only as the high-water mark of each size class grows; physical
// pages are committed by the first touch of a block and handed back to the OS with
// madvise(MADV_DONTNEED) when blocks are freed (beyond a small retained reserve kept hot for
// reuse). This is kvcached's virtual-memory idea on the host: nothing is reserved per model.
//
// NOTE (size classes, why): a namespace's slot size is its block bytes rounded up to whole pages,
// and each distinct slot size is a size class with its own virtual region as large as the whole
// budget. Because regions are virtual and freed slots are madvised away, classes cost address
// space only — the byte budget is one number shared by all classes (a block of any class counts
// its slot bytes). Page-granular slots make "give memory back" exact (a freed slot's pages go
// back to the OS) with no compaction; the rounding waste is < 1% for real models (a SmolLM2-135M
// f16 block is 720 KiB). A first-fit page allocator over one region would save that 1% but
// fragment and need compaction; size classes never fragment across models.
//
// Invariant: used_bytes() <= budget_bytes(); committed_bytes() = used_bytes() + retained free
// bytes; retained free bytes <= retain_free_bytes. Allocate() returns nullptr (no room is a
// value) when the budget is full.
//
// Thread-safety: none; the owner (KvMemory) serializes calls under its mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace swarmkv {

struct BlockPoolOptions {
  uint64_t budget_bytes = 0;                 // the one KV byte budget (required, > 0)
  uint64_t retain_free_bytes = 64ull << 20;  // freed slots kept committed for fast reuse
  int32_t max_size_classes = 16;             // distinct slot sizes (namespace shapes) at once
};

class BlockPool {
 public:
  static Result<std::unique_ptr<BlockPool>> Create(const BlockPoolOptions& options);
  ~BlockPool();  // checks that every slot was freed (a leak is a bug)
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // Bytes of the slot that holds a block of `block_bytes`: rounded up to whole pages.
  static uint64_t SlotBytes(uint64_t block_bytes);

  // Makes a size class available. OK if it exists; InvalidArgument if one slot exceeds the
  // budget; ResourceExhausted when max_size_classes distinct sizes are in use.
  // REQUIRES: slot_bytes == SlotBytes(slot_bytes).
  Status AddSizeClass(uint64_t slot_bytes);

  // A slot of `slot_bytes` (a registered class), or nullptr when it would exceed the budget.
  // The contents are unspecified (zero or stale).
  uint8_t* Allocate(uint64_t slot_bytes);
  // REQUIRES: `slot` came from Allocate(slot_bytes) and is not freed yet.
  void Free(uint8_t* slot, uint64_t slot_bytes);
  // Hands every retained free slot back to the OS.
  void ReleaseRetained();

  uint64_t budget_bytes() const { return options_.budget_bytes; }
  uint64_t used_bytes() const { return used_bytes_; }
  uint64_t committed_bytes() const { return used_bytes_ + retained_bytes_; }
  uint64_t reserved_address_bytes() const { return reserved_size_; }

  Status CheckInvariants() const;
  std::string DebugString() const;

 private:
  struct SizeClass {
    uint64_t slot_bytes = 0;
    uint8_t* base = nullptr;           // start of this class's virtual region
    uint64_t num_slots_max = 0;        // slots that fit the region
    uint64_t high_water = 0;           // slots ever handed out; [0, high_water) is read/write
    uint64_t rw_slots = 0;             // slots made read/write so far (>= high_water)
    uint64_t live = 0;                 // slots allocated now
    std::vector<uint32_t> hot_free;    // freed, pages still committed (reused first)
    std::vector<uint32_t> cold_free;   // freed, pages returned to the OS
  };

  explicit BlockPool(const BlockPoolOptions& options) : options_(options) {}
  SizeClass* FindClass(uint64_t slot_bytes);
  void ReleaseSlot(SizeClass& c, uint32_t index);

  // Constant after construction.
  BlockPoolOptions options_;
  uint8_t* reserved_ = nullptr;  // the whole PROT_NONE reservation
  uint64_t reserved_size_ = 0;
  uint64_t region_bytes_ = 0;  // virtual bytes per size class

  std::vector<SizeClass> classes_;
  uint64_t used_bytes_ = 0;
  uint64_t retained_bytes_ = 0;
};

}  // namespace swarmkv
