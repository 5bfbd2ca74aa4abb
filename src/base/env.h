// Env: the only door from swarmkv to the file system (after LevelDB's Env).
//
// Everything that reads or writes files goes through an Env so tests can substitute a
// fault-injecting one (disk full, short writes, failed renames) around the real file system.
// Env::Default() is the POSIX one. Errors name the path and the errno text.
//
// Thread-safety: Env methods are safe to call concurrently; a WritableFile is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace swarmkv {

// A read-only memory mapping of a whole file; unmapped on destruction. Empty files map to
// data() == nullptr, size() == 0.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual const uint8_t* data() const = 0;
  virtual size_t size() const = 0;
  virtual const std::string& path() const = 0;
};

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::span<const uint8_t> data) = 0;
  Status Append(std::string_view s) {
    return Append(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  virtual Status Sync() = 0;   // fdatasync
  virtual Status Close() = 0;  // idempotent; the destructor closes without reporting
};

struct FileInfo {
  uint64_t size_bytes = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
  bool is_dir = false;
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();

  virtual Result<std::unique_ptr<MappedFile>> MapFile(const std::string& path) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Creates or truncates.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Creates a new file with `mode`; fails if anything exists at `path`, a symlink included
  // (O_CREAT | O_EXCL | O_NOFOLLOW): a name planted by someone else is never written through.
  virtual Result<std::unique_ptr<WritableFile>> NewExclusiveFile(const std::string& path, int mode) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  // mkdir -p.
  virtual Status CreateDirs(const std::string& path) = 0;
  // Names (not paths) of the entries in `dir`, without "." and "..".
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;

  // Writes `data` to `path` atomically: a temporary file beside it (created exclusively, with
  // `mode`), then rename. With `sync`, the data is fdatasync'ed before the rename (the directory
  // is not synced).
  Status WriteFileAtomic(const std::string& path, std::span<const uint8_t> data, bool sync, int mode = 0644);
  Status WriteFileAtomic(const std::string& path, std::string_view data, bool sync, int mode = 0644) {
    return WriteFileAtomic(
        path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()), sync, mode);
  }
};

// Joins path pieces with exactly one '/'.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace swarmkv
