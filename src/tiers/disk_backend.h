// DiskBackend: a TierBackend of content-addressed files in one directory, LRU within a budget.
//
// Layout: DIR/<first two hex digits>/<32 hex digits of the identity>.skv (256-way fan-out keeps
// directories small). Writes go through Env::WriteFileAtomic (temp file + rename), so a reader or
// a restart never sees half an entry; a crash leaves at worst a stray "*.tmp.*" file, which Open()
// deletes.
//
// fsync policy: entries are NOT fsync'ed by default (`sync_writes = false`). The disk tier is a
// cache: after a power loss an entry may be missing or hold garbage, and both are harmless because
// every read is verified (entry_format.h) and a bad entry is deleted and recomputed. Process
// crashes (kill -9) lose nothing that was renamed: the page cache survives the process. Syncing
// every 50-200 KiB block would cost a disk flush per evicted block for no correctness gain.
//
// Start-up: Open() rebuilds the index from names and sizes only (one ListDir per fan-out directory,
// one stat per file; contents are verified lazily when read), ordering the LRU by mtime.
//
// Sharing: two processes may use one directory (a shared dir, or two servers on one machine).
// Each keeps its own index; Get() of a key it has not indexed still tries the file (another
// process may have written it) and indexes it on a hit. Each enforces the budget on what it has
// indexed; deleting a file another process is reading is safe on POSIX (the reader keeps it).
//
// Disk full: a failed write (ENOSPC or any IOError) logs ONE warning and pauses writes for
// `write_pause_after_failure_ms`; Puts during the pause fail fast and are counted. Reads go on.
//
// Thread-safety: all methods are thread-safe (one mutex for the index; file I/O outside it).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/env.h"
#include "tiers/tier_backend.h"

struct stat;

namespace swarmkv {

struct DiskBackendOptions {
  std::string dir;                  // created if missing
  uint64_t capacity_bytes = 50ull << 30;
  std::string name = "disk";        // "disk" or "shared"
  bool sync_writes = false;         // see the fsync policy above
  int64_t write_pause_after_failure_ms = 10'000;
  // Reads refuse (Corruption, and delete) a file larger than this before allocating anything:
  // another writer of a shared directory may plant one claiming gigabytes.
  uint64_t max_entry_bytes = 256ull << 20;
  Env* env = nullptr;               // nullptr: Env::Default()
};

// The default directory: $XDG_CACHE_HOME/swarmkv/kv, else $HOME/.cache/swarmkv/kv.
std::string DefaultDiskTierDir();

class DiskBackend final : public TierBackend {
 public:
  static Result<std::unique_ptr<DiskBackend>> Open(DiskBackendOptions options);

  std::string_view name() const override { return options_.name; }
  Status Put(const Hash128& key, std::span<const uint8_t> bytes) override;
  Result<std::optional<std::string>> Get(const Hash128& key) override;
  // One open + fstat + pread of the whole file into `out` (reused across blocks by a restore):
  // the only copy is page cache -> buffer.
  Result<bool> GetInto(const Hash128& key, ReadBuffer* out) override;
  Result<bool> Contains(const Hash128& key) override;
  Status Erase(const Hash128& key) override;
  // posix_fadvise(WILLNEED) on each file: the kernel reads them asynchronously, so a restore
  // reading one file at a time still keeps the disk's queue full.
  void Prefetch(std::span<const Hash128> keys) override;
  TierBackendStats stats() const override;
  std::string DebugString() const override;
  Status CheckInvariants() const;

  // The file that holds `key` (whether or not it exists).
  std::string PathFor(const Hash128& key) const;
  // Stray temp files deleted by Open().
  int64_t temp_files_removed() const { return temp_files_removed_; }

 private:
  explicit DiskBackend(DiskBackendOptions options);
  Status LoadIndex();
  // A temp file of an unfinished write of ours whose writer is gone (see LoadIndex).
  bool IsStaleTempFile(const std::string& name, const std::string& path);
  // OK for a regular file of at most max_entry_bytes; else unlinks the name and says why
  // (Corruption). `open_errno` ELOOP: the name is a symlink.
  Status CheckEntryFile(const std::string& path, int open_errno, const struct stat* st);
  // REQUIRES: mu_ held. Inserts or refreshes `key` as most recently used.
  void TouchLocked(const Hash128& key, uint64_t size_bytes);
  // REQUIRES: mu_ held. Removes index entries (oldest first) until `incoming` more bytes fit;
  // returns the paths to delete (outside the lock).
  std::vector<std::string> EvictForLocked(uint64_t incoming);
  void EraseLocked(const Hash128& key);

  // Constant after construction.
  const DiskBackendOptions options_;
  Env* const env_;
  int64_t temp_files_removed_ = 0;

  // State below is protected by mu_.
  struct Entry {
    uint64_t size_bytes = 0;
    std::list<Hash128>::iterator lru_pos;  // in lru_
  };
  mutable std::mutex mu_;
  std::list<Hash128> lru_;  // front = least recently used
  std::unordered_map<Hash128, Entry, Hash128Hasher> index_;
  uint64_t bytes_ = 0;  // == sum of index_ sizes
  int64_t pause_writes_until_ns_ = 0;
  bool warned_write_failure_ = false;
  TierBackendStats counters_;
};

}  // namespace swarmkv
