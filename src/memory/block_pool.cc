#include "memory/block_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "base/logging.h"

namespace swarmkv {
namespace {

uint64_t PageBytes() {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return page;
}
uint64_t RoundUp(uint64_t v, uint64_t m) { return (v + m - 1) / m * m; }
// The read/write part of a class grows in steps of at least this many bytes (fewer mprotects).
constexpr uint64_t kGrowBytes = 32ull << 20;

// Commits a fresh (never touched, or madvised away) slot's pages in one call: every slot is
// written whole right after allocation (a restored block, or a prefill's rows), and one
// MADV_POPULATE_WRITE costs less than a page fault per 4 KiB (figures: docs/benchmarks.md,
// "Block pool: populating fresh slots").
// Kernels before 5.14 say EINVAL: the pages then fault in on first touch as before.
// NOTE: this runs under KvMemory's mutex (a fraction of a millisecond for a 720 KiB slot); the
// faults it replaces ran outside it. Pre-populating slots on an idle thread would take it off the lock.
void Populate(uint8_t* slot, uint64_t bytes) {
#ifdef MADV_POPULATE_WRITE
  static bool supported = true;
  if (supported && madvise(slot, bytes, MADV_POPULATE_WRITE) != 0 && errno == EINVAL) supported = false;
#else
  (void)slot;
  (void)bytes;
#endif
}

}  // namespace

uint64_t BlockPool::SlotBytes(uint64_t block_bytes) { return RoundUp(std::max<uint64_t>(block_bytes, 1), PageBytes()); }

Result<std::unique_ptr<BlockPool>> BlockPool::Create(const BlockPoolOptions& options) {
  if (options.budget_bytes == 0) return InvalidArgumentError("KV memory budget must be > 0 bytes");
  if (options.max_size_classes <= 0 || options.max_size_classes > 256) {
    return InvalidArgumentError("max_size_classes must be in 1..256, got " + std::to_string(options.max_size_classes));
  }
  std::unique_ptr<BlockPool> pool(new BlockPool(options));
  // Each class may use the whole budget plus one slot of rounding; 2 MiB alignment keeps
  // regions huge-page friendly.
  pool->region_bytes_ = RoundUp(options.budget_bytes, 2ull << 20) + (2ull << 20);
  const uint64_t total = pool->region_bytes_ * static_cast<uint64_t>(options.max_size_classes);
  if (total / static_cast<uint64_t>(options.max_size_classes) != pool->region_bytes_ || total > (1ull << 46)) {
    return InvalidArgumentError("KV memory budget " + std::to_string(options.budget_bytes) +
                                " bytes is too large to reserve address space for");
  }
  void* p = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return ResourceExhaustedError("cannot reserve " + std::to_string(total) +
                                  " bytes of address space for the KV pool: " + std::strerror(errno));
  }
  pool->reserved_ = static_cast<uint8_t*>(p);
  pool->reserved_size_ = total;
  return pool;
}

BlockPool::~BlockPool() {
  SKV_CHECK(used_bytes_ == 0) << "BlockPool destroyed with " << used_bytes_ << " bytes of blocks still allocated";
  if (reserved_ != nullptr) munmap(reserved_, reserved_size_);
}

BlockPool::SizeClass* BlockPool::FindClass(uint64_t slot_bytes) {
  for (SizeClass& c : classes_) {
    if (c.slot_bytes == slot_bytes) return &c;
  }
  return nullptr;
}

Status BlockPool::AddSizeClass(uint64_t slot_bytes) {
  if (slot_bytes == 0 || slot_bytes != SlotBytes(slot_bytes)) {
    return InvalidArgumentError("slot size " + std::to_string(slot_bytes) + " is not a whole number of pages");
  }
  if (slot_bytes > options_.budget_bytes) {
    return InvalidArgumentError("one KV block needs " + std::to_string(slot_bytes) + " bytes, more than the whole KV budget of " +
                                std::to_string(options_.budget_bytes) + " bytes");
  }
  if (FindClass(slot_bytes) != nullptr) return Status::OK();
  if (static_cast<int32_t>(classes_.size()) >= options_.max_size_classes) {
    return ResourceExhaustedError("the KV pool already serves " + std::to_string(classes_.size()) +
                                  " distinct block sizes (max_size_classes)");
  }
  SizeClass c;
  c.slot_bytes = slot_bytes;
  c.base = reserved_ + region_bytes_ * classes_.size();
  c.num_slots_max = std::min<uint64_t>(region_bytes_ / slot_bytes, UINT32_MAX);
  classes_.push_back(std::move(c));
  return Status::OK();
}

uint8_t* BlockPool::Allocate(uint64_t slot_bytes) {
  SizeClass* c = FindClass(slot_bytes);
  SKV_CHECK(c != nullptr) << "no size class for " << slot_bytes << " bytes";
  if (used_bytes_ + slot_bytes > options_.budget_bytes) return nullptr;
  uint64_t index;
  const bool from_hot = !c->hot_free.empty();
  if (from_hot) {
    index = c->hot_free.back();
    c->hot_free.pop_back();
    retained_bytes_ -= slot_bytes;
  } else if (!c->cold_free.empty()) {
    index = c->cold_free.back();
    c->cold_free.pop_back();
  } else {
    if (c->high_water >= c->num_slots_max) return nullptr;  // cannot happen within the budget
    if (c->high_water == c->rw_slots) {
      const uint64_t grow = std::max<uint64_t>(1, kGrowBytes / slot_bytes);
      const uint64_t new_rw = std::min(c->num_slots_max, c->rw_slots + grow);
      uint8_t* start = c->base + c->rw_slots * slot_bytes;
      if (mprotect(start, (new_rw - c->rw_slots) * slot_bytes, PROT_READ | PROT_WRITE) != 0) {
        SKV_LOG(ERROR) << "KV pool: mprotect of " << (new_rw - c->rw_slots) * slot_bytes
                       << " bytes failed: " << std::strerror(errno);
        return nullptr;
      }
      // No MADV_HUGEPAGE here: measured (tiers_bench restore_prefix, 3 A/B pairs) it made a cold
      // restore into a fresh pool 2.5-5x slower — with THP defrag "madvise" every huge-page
      // fault may compact memory synchronously.
      c->rw_slots = new_rw;
    }
    index = c->high_water++;
  }
  ++c->live;
  used_bytes_ += slot_bytes;
  uint8_t* slot = c->base + index * slot_bytes;
  if (!from_hot) Populate(slot, slot_bytes);
  return slot;
}

void BlockPool::ReleaseSlot(SizeClass& c, uint32_t index) {
  // MADV_DONTNEED on private anonymous memory frees the pages now; the next touch reads zeros.
  if (madvise(c.base + static_cast<uint64_t>(index) * c.slot_bytes, c.slot_bytes, MADV_DONTNEED) != 0) {
    SKV_LOG(WARN) << "KV pool: madvise(MADV_DONTNEED) failed: " << std::strerror(errno);
  }
  c.cold_free.push_back(index);
}

void BlockPool::Free(uint8_t* slot, uint64_t slot_bytes) {
  SizeClass* c = FindClass(slot_bytes);
  SKV_CHECK(c != nullptr && slot >= c->base && (slot - c->base) % slot_bytes == 0 &&
            static_cast<uint64_t>(slot - c->base) / slot_bytes < c->high_water)
      << "freeing a slot the pool did not hand out";
  const uint32_t index = static_cast<uint32_t>(static_cast<uint64_t>(slot - c->base) / slot_bytes);
  SKV_CHECK(c->live > 0 && used_bytes_ >= slot_bytes);
  --c->live;
  used_bytes_ -= slot_bytes;
  if (retained_bytes_ + slot_bytes <= options_.retain_free_bytes) {
    c->hot_free.push_back(index);
    retained_bytes_ += slot_bytes;
  } else {
    ReleaseSlot(*c, index);
  }
}

void BlockPool::ReleaseRetained() {
  for (SizeClass& c : classes_) {
    for (uint32_t index : c.hot_free) ReleaseSlot(c, index);
    retained_bytes_ -= c.hot_free.size() * c.slot_bytes;
    c.hot_free.clear();
  }
}

Status BlockPool::CheckInvariants() const {
  uint64_t used = 0, retained = 0;
  for (const SizeClass& c : classes_) {
    if (c.live + c.hot_free.size() + c.cold_free.size() != c.high_water) {
      return InternalError("KV pool class " + std::to_string(c.slot_bytes) + ": live + free != high water");
    }
    if (c.high_water > c.rw_slots || c.rw_slots > c.num_slots_max) {
      return InternalError("KV pool class " + std::to_string(c.slot_bytes) + ": read/write mark out of order");
    }
    used += c.live * c.slot_bytes;
    retained += c.hot_free.size() * c.slot_bytes;
  }
  if (used != used_bytes_) return InternalError("KV pool: used bytes drifted from the classes' live slots");
  if (retained != retained_bytes_) return InternalError("KV pool: retained bytes drifted from the hot free lists");
  if (used_bytes_ > options_.budget_bytes) return InternalError("KV pool: used bytes exceed the budget");
  if (retained_bytes_ > options_.retain_free_bytes) return InternalError("KV pool: retains more than allowed");
  return Status::OK();
}

std::string BlockPool::DebugString() const {
  std::ostringstream os;
  os << "BlockPool budget=" << options_.budget_bytes << " used=" << used_bytes_ << " committed=" << committed_bytes()
     << " reserved_va=" << reserved_size_ << "\n";
  for (const SizeClass& c : classes_) {
    os << "  class slot=" << c.slot_bytes << " live=" << c.live << " hot_free=" << c.hot_free.size()
       << " cold_free=" << c.cold_free.size() << " high_water=" << c.high_water << "\n";
  }
  return os.str();
}

}  // namespace swarmkv
