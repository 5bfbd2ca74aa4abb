// ColdKvFile: the disk copy of one running sequence's cold KV blocks (context beyond RAM).
//
// One sparse file per sequence, layer-major so that one layer's slices of consecutive blocks are
// one contiguous read: layer l's slice of block b lives at ((l * max_blocks) + b) * slice_bytes,
// where a slice is the layer's K and V rows of the block (docs/conventions.md: a block is
// layer-major, so a slice is a contiguous range of the block's bytes). Every slice written gets
// an XXH3-64 checksum, kept in memory and checked on every read: a bad read is an error, never
// wrong numbers. The file is removed when the object is destroyed (and is unlinked from the start
// when `unlink_on_open`: only the descriptor keeps it).
//
// Faults: ColdKvFaults (owned by the caller, e.g. a test) makes writes fail as a full disk does,
// reads fail as a dying disk does, or read bytes flip — a fault-injecting wrapper around the real
// file, whose calls still happen.
//
// Invariant: ReadSlices returns bytes equal to those WriteBlock stored, or an error.
// Thread-safety: ReadSlices from any threads at once; WriteBlock never concurrently with any
// other call (the runner writes after a step, when the stream's reader is idle).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace swarmkv {

struct ColdKvFaults {
  std::atomic<bool> fail_writes{false};  // pwrite fails with ENOSPC's message
  std::atomic<bool> fail_reads{false};   // pread fails with EIO's message
  std::atomic<bool> flip_reads{false};   // one byte of every read is flipped (the checksum catches it)
  std::atomic<int64_t> writes{0};        // slices written
  std::atomic<int64_t> reads{0};         // pread calls
};

struct ColdKvFileOptions {
  std::string dir;                 // created if missing
  int32_t num_layers = 0;
  int64_t slice_bytes = 0;         // one layer's bytes of one block
  int64_t max_blocks = 0;          // blocks per sequence this file can hold
  ColdKvFaults* faults = nullptr;  // tests only
};

// Removes the cold files in `dir` left by processes that no longer run (a crash or kill -9 leaves
// them: they are named by pid and useless to anyone else — what outlives a process is the tier
// entries, engine/cold_kv.h). Returns the files removed; a missing directory is 0.
int64_t RemoveStaleColdFiles(const std::string& dir);

class ColdKvFile {
 public:
  static Result<std::unique_ptr<ColdKvFile>> Create(const ColdKvFileOptions& options);
  ~ColdKvFile();
  ColdKvFile(const ColdKvFile&) = delete;
  ColdKvFile& operator=(const ColdKvFile&) = delete;

  // Stores block `index` (num_layers * slice_bytes, the conventions layout). OutOfRange past
  // max_blocks; IOError when the disk refuses (nothing is recorded then).
  Status WriteBlock(int64_t index, std::span<const uint8_t> block_bytes);
  // Reads layer `layer`'s slices of blocks [first, first + count) into dst (count * slice_bytes),
  // verifying each. FailedPrecondition for a block never written; IOError / Corruption.
  Status ReadSlices(int layer, int64_t first, int64_t count, uint8_t* dst) const;

  int64_t slice_bytes() const { return options_.slice_bytes; }
  const std::string& path() const { return path_; }
  // Asks the kernel to drop the file's cached pages (benchmarks: reads then come from the device).
  void DropPageCache() const;

 private:
  ColdKvFile(ColdKvFileOptions options, int fd, std::string path);
  ColdKvFileOptions options_;
  int fd_ = -1;
  std::string path_;
  std::vector<uint64_t> checksums_;  // [block * num_layers + layer], grown by WriteBlock
  std::vector<uint8_t> written_;     // [block], grown by WriteBlock
};

}  // namespace swarmkv
