// FaultEnv: an Env that forwards to a real one and injects write faults on demand.
//
// Faults: "disk full" (every Append fails with ENOSPC's text, like a full file system), a byte
// budget after which Appends fail the same way, and failing renames. Reads are never faulted: the
// point is to show that write failures leave the tier readable and the server serving.
// Files really are created in the wrapped Env, so a failed write leaves whatever the real one
// would (Env::WriteFileAtomic then deletes its temp file).
//
// Thread-safety: the fault switches are atomics; safe to flip while other threads write.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/env.h"

namespace swarmkv {

class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Env* base) : base_(base) {}

  void SetDiskFull(bool full) { disk_full_ = full; }
  // Appends fail once this many more bytes were written (negative: no limit).
  void SetWriteBudget(int64_t bytes) { write_budget_ = bytes; }
  void SetFailRenames(bool fail) { fail_renames_ = fail; }
  int64_t write_attempts() const { return write_attempts_; }
  int64_t injected_failures() const { return injected_failures_; }

  Result<std::unique_ptr<MappedFile>> MapFile(const std::string& path) override { return base_->MapFile(path); }
  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewExclusiveFile(const std::string& path, int mode) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status DeleteFile(const std::string& path) override { return base_->DeleteFile(path); }
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override { return base_->ListDir(dir); }
  Result<FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }

 private:
  friend class FaultWritableFile;
  // Returns the injected failure for an Append of `n` bytes to `path`, or OK.
  Status ChargeWrite(const std::string& path, uint64_t n);

  Env* const base_;
  std::atomic<bool> disk_full_{false};
  std::atomic<int64_t> write_budget_{-1};
  std::atomic<bool> fail_renames_{false};
  std::atomic<int64_t> write_attempts_{0};
  std::atomic<int64_t> injected_failures_{0};
};

}  // namespace swarmkv
