// TierBackend: one lower tier of KV storage below RAM (local disk, shared directory, Redis).
//
// A backend stores opaque entry bytes (tiers/entry_format.h) under a block identity. It does not
// interpret them: the tier manager verifies everything it reads, and erases what fails.
//
// Contract:
//   - Get: a miss is std::nullopt (a value, not an error). Unavailable when the backend cannot be
//     reached (Redis down) — the caller treats that as a miss and recomputes. Other errors are
//     IOError. A backend never blocks for long: remote calls have timeouts.
//   - Put: IOError / ResourceExhausted / Unavailable when the write did not happen; the entry is
//     then simply absent (writes are whole or nothing: a reader never sees half an entry).
//   - Erase of a missing key is OK.
//
// Thread-safety: every method may be called concurrently from any thread (the tier manager's
// write-back thread and request threads).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/hash.h"
#include "base/status.h"

namespace swarmkv {

struct TierBackendStats {
  int64_t entries = 0;          // entries this process knows of (disk: indexed; Redis: -1, unknown)
  uint64_t bytes = 0;           // their bytes (disk); 0 when unknown
  uint64_t capacity_bytes = 0;  // the budget (0: the backend's own policy, e.g. Redis maxmemory)
  int64_t gets = 0, hits = 0, puts = 0, put_failures = 0, erases = 0, evictions = 0;
  bool available = true;        // false while a remote backend is disconnected
};

// A reusable byte buffer for reads: grows, never shrinks, never zero-fills. A restore reads
// hundreds of ~700 KiB entries; a fresh std::string per entry costs a zero-fill and ~180 page
// faults each (large allocations are mmap'ed), more than the copy itself.
class ReadBuffer {
 public:
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<const uint8_t> span() const { return {data_.get(), size_}; }
  // Sets the size; the contents are unspecified (the caller overwrites them).
  void Resize(size_t n) {
    if (n > capacity_) {
      data_.reset(new uint8_t[n]);
      capacity_ = n;
    }
    size_ = n;
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0, capacity_ = 0;
};

class TierBackend {
 public:
  virtual ~TierBackend() = default;

  // "disk", "shared", "redis": used in metrics and logs.
  virtual std::string_view name() const = 0;

  virtual Status Put(const Hash128& key, std::span<const uint8_t> bytes) = 0;
  virtual Result<std::optional<std::string>> Get(const Hash128& key) = 0;
  // Get into a caller's reusable buffer: true on a hit (out holds the entry), false on a miss;
  // errors as Get. The default goes through Get (one extra copy).
  virtual Result<bool> GetInto(const Hash128& key, ReadBuffer* out) {
    auto got = Get(key);
    if (!got.ok()) return got.status();
    if (!got->has_value()) return false;
    out->Resize((*got)->size());
    if (!(*got)->empty()) std::memcpy(out->data(), (*got)->data(), (*got)->size());
    return true;
  }
  virtual Result<bool> Contains(const Hash128& key) = 0;
  virtual Status Erase(const Hash128& key) = 0;
  // A hint that `keys` will be read soon (the disk starts reading them into the page cache). No
  // effect on correctness; the default does nothing.
  virtual void Prefetch(std::span<const Hash128> keys) {}
  virtual TierBackendStats stats() const = 0;
  virtual std::string DebugString() const = 0;
};

}  // namespace swarmkv
