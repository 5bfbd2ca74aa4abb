#include "tiers/disk_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>

#include "base/logging.h"
#include "base/sysinfo.h"
#include "base/units.h"

namespace swarmkv {
namespace {

constexpr std::string_view kSuffix = ".skv";

std::string FanOutName(unsigned i) {
  static const char* kHex = "0123456789abcdef";
  return std::string{kHex[i >> 4], kHex[i & 15]};
}

}  // namespace

std::string DefaultDiskTierDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') return JoinPath(JoinPath(xdg, "swarmkv"), "kv");
  const char* home = std::getenv("HOME");
  return JoinPath(JoinPath(JoinPath(home != nullptr && *home ? home : "/tmp", ".cache"), "swarmkv"), "kv");
}

DiskBackend::DiskBackend(DiskBackendOptions options)
    : options_(std::move(options)), env_(options_.env != nullptr ? options_.env : Env::Default()) {
  counters_.capacity_bytes = options_.capacity_bytes;
}

Result<std::unique_ptr<DiskBackend>> DiskBackend::Open(DiskBackendOptions options) {
  if (options.dir.empty()) return InvalidArgumentError("disk tier: empty directory");
  if (options.capacity_bytes == 0) return InvalidArgumentError("disk tier " + options.dir + ": size budget is 0");
  std::unique_ptr<DiskBackend> backend(new DiskBackend(std::move(options)));
  SKV_RETURN_IF_ERROR(backend->LoadIndex());
  return backend;
}

std::string DiskBackend::PathFor(const Hash128& key) const {
  std::string hex = key.ToHex();
  return JoinPath(JoinPath(options_.dir, hex.substr(0, 2)), hex + std::string(kSuffix));
}

bool DiskBackend::IsStaleTempFile(const std::string& name, const std::string& path) {
  constexpr int64_t kStaleTempNs = int64_t{10} * 60 * 1000000000;  // 10 minutes
  const std::string prefix_end = std::string(kSuffix) + ".tmp.";
  if (name.size() < 32 + prefix_end.size() + 3 || name.compare(32, prefix_end.size(), prefix_end) != 0) return false;
  if (!Hash128::FromHex(std::string_view(name).substr(0, 32))) return false;
  std::string_view rest = std::string_view(name).substr(32 + prefix_end.size());  // <pid>.<n>
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) return false;
  if (rest.substr(0, dot).find_first_not_of("0123456789") != std::string_view::npos ||
      rest.substr(dot + 1).find_first_not_of("0123456789") != std::string_view::npos || dot > 9)
    return false;
  const long pid = std::strtol(std::string(rest.substr(0, dot)).c_str(), nullptr, 10);
  auto info = env_->Stat(path);
  if (!info.ok()) return false;
  const bool writer_gone = pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH);
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const bool old = now_ns - info->mtime_ns > kStaleTempNs;
  return writer_gone || old;
}

Status DiskBackend::LoadIndex() {
  struct Found {
    Hash128 key;
    uint64_t size_bytes;
    int64_t mtime_ns;
  };
  std::vector<Found> found;
  for (unsigned i = 0; i < 256; ++i) {
    std::string sub = JoinPath(options_.dir, FanOutName(i));
    SKV_RETURN_IF_ERROR(env_->CreateDirs(sub).WithContext("disk tier"));
    SKV_ASSIGN_OR_RETURN(auto names, env_->ListDir(sub));
    for (const std::string& name : names) {
      std::string path = JoinPath(sub, name);
      if (name.find(".tmp.") != std::string::npos) {
        // A write that never reached its rename (crash, kill -9, disk full): removed only when
        // it is one of ours by name (<32 hex>.skv.tmp.<pid>.<n>) and its writer is surely gone
        // (no such process here, or older than kStaleTempNs: the directory may be shared across
        // machines). Anything else is not ours to delete.
        if (IsStaleTempFile(name, path)) {
          if (env_->DeleteFile(path).ok()) ++temp_files_removed_;
        }
        continue;
      }
      if (name.size() != 32 + kSuffix.size() || !name.ends_with(kSuffix)) continue;  // not ours
      auto key = Hash128::FromHex(std::string_view(name).substr(0, 32));
      if (!key) continue;
      auto info = env_->Stat(path);
      if (!info.ok()) continue;  // deleted meanwhile by another process
      found.push_back({*key, info->size_bytes, info->mtime_ns});
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.mtime_ns < b.mtime_ns; });
  std::vector<std::string> evicted;
  {
    std::lock_guard lock(mu_);
    for (const Found& f : found) TouchLocked(f.key, f.size_bytes);
    evicted = EvictForLocked(0);  // the budget may have shrunk since the last run
  }
  for (const auto& p : evicted) env_->DeleteFile(p).IgnoreError();
  if (temp_files_removed_ > 0) {
    SKV_LOG(INFO) << "disk tier " << options_.dir << ": removed " << temp_files_removed_ << " unfinished temp files";
  }
  return Status::OK();
}

void DiskBackend::TouchLocked(const Hash128& key, uint64_t size_bytes) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    bytes_ -= it->second.size_bytes;
    lru_.erase(it->second.lru_pos);
    index_.erase(it);
  }
  lru_.push_back(key);
  index_[key] = Entry{size_bytes, std::prev(lru_.end())};
  bytes_ += size_bytes;
}

void DiskBackend::EraseLocked(const Hash128& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  bytes_ -= it->second.size_bytes;
  lru_.erase(it->second.lru_pos);
  index_.erase(it);
}

std::vector<std::string> DiskBackend::EvictForLocked(uint64_t incoming) {
  std::vector<std::string> paths;
  while (!lru_.empty() && bytes_ + incoming > options_.capacity_bytes) {
    Hash128 victim = lru_.front();
    EraseLocked(victim);
    paths.push_back(PathFor(victim));
    ++counters_.evictions;
  }
  return paths;
}

Status DiskBackend::Put(const Hash128& key, std::span<const uint8_t> bytes) {
  if (bytes.size() > options_.capacity_bytes) {
    return ResourceExhaustedError("disk tier " + options_.dir + ": entry of " + FormatBytes(bytes.size()) +
                                  " exceeds the budget");
  }
  std::vector<std::string> evicted;
  {
    std::lock_guard lock(mu_);
    ++counters_.puts;
    if (MonotonicNanos() < pause_writes_until_ns_) {
      ++counters_.put_failures;
      return ResourceExhaustedError("disk tier " + options_.dir + ": writes paused after a failed write");
    }
    evicted = EvictForLocked(bytes.size());
  }
  for (const auto& p : evicted) env_->DeleteFile(p).IgnoreError();
  // Temp file created O_EXCL|O_NOFOLLOW with mode 0600: a symlink planted at its name by another
  // writer of a shared directory makes this write fail; it is never written through.
  Status s = env_->WriteFileAtomic(PathFor(key), bytes, options_.sync_writes, 0600);
  std::lock_guard lock(mu_);
  if (!s.ok()) {
    ++counters_.put_failures;
    pause_writes_until_ns_ = MonotonicNanos() + options_.write_pause_after_failure_ms * 1'000'000;
    if (!warned_write_failure_) {
      warned_write_failure_ = true;
      SKV_LOG(WARN) << "disk tier " << options_.dir << ": write failed, pausing write-back for "
                    << options_.write_pause_after_failure_ms << " ms (serving continues): " << s.ToString();
    }
    return s;
  }
  warned_write_failure_ = false;
  TouchLocked(key, bytes.size());
  return Status::OK();
}

Result<std::optional<std::string>> DiskBackend::Get(const Hash128& key) {
  // Through GetInto: the same checks (no symlinks, regular files only, size before allocation).
  ReadBuffer buf;
  SKV_ASSIGN_OR_RETURN(bool found, GetInto(key, &buf));
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(std::string(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

Status DiskBackend::CheckEntryFile(const std::string& path, int open_errno, const struct stat* st) {
  std::string why;
  if (open_errno == ELOOP) {
    why = "is a symbolic link";
  } else if (st != nullptr && !S_ISREG(st->st_mode)) {
    why = "is not a regular file";
  } else if (st != nullptr && static_cast<uint64_t>(st->st_size) > options_.max_entry_bytes) {
    why = "has " + std::to_string(st->st_size) + " bytes, more than any entry (" +
          std::to_string(options_.max_entry_bytes) + ")";
  } else {
    return Status::OK();
  }
  // Not ours to read: planted by another writer of the directory. Removing the name (never
  // what a link points to) keeps the next reader from tripping on it.
  ::unlink(path.c_str());
  return CorruptionError(std::string(name()) + " tier: " + path + " " + why + ": dropped");
}

Result<bool> DiskBackend::GetInto(const Hash128& key, ReadBuffer* out) {
  {
    std::lock_guard lock(mu_);
    ++counters_.gets;
  }
  const std::string path = PathFor(key);
  // NOTE: straight to the OS, like Prefetch: Env has no pread into a caller's buffer, and the
  // fault env injects write faults only.
  // O_NOFOLLOW: a symlink planted at an entry's name is refused (ELOOP), not followed;
  // O_NONBLOCK: a FIFO planted there cannot block the open.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) {
      Status bad = CheckEntryFile(path, err, nullptr);
      std::lock_guard lock(mu_);
      EraseLocked(key);
      return bad;
    }
    std::lock_guard lock(mu_);
    if (err == ENOENT) {
      EraseLocked(key);  // evicted, never written, or deleted by another process: a miss
      return false;
    }
    return IOError("disk tier: open " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  Status status;
  if (::fstat(fd, &st) != 0) {
    status = IOError("disk tier: fstat " + path + ": " + std::strerror(errno));
  } else if (Status bad = CheckEntryFile(path, 0, &st); !bad.ok()) {
    ::close(fd);
    std::lock_guard lock(mu_);
    EraseLocked(key);
    return bad;
  } else {
    const size_t size = static_cast<size_t>(st.st_size);
    out->Resize(size);
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd, out->data() + done, size - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // A short file (truncated under us) is handed on as it is: verification rejects it.
        if (n < 0) status = IOError("disk tier: read " + path + ": " + std::strerror(errno));
        break;
      }
      done += static_cast<size_t>(n);
    }
    out->Resize(done);
  }
  ::close(fd);
  if (!status.ok()) return status;
  std::lock_guard lock(mu_);
  ++counters_.hits;
  TouchLocked(key, out->size());  // also adopts entries another process wrote
  return true;
}

void DiskBackend::Prefetch(std::span<const Hash128> keys) {
  // NOTE: straight to the OS: a hint has no failure to inject, and Env has no fadvise.
  for (const Hash128& key : keys) {
    int fd = ::open(PathFor(key).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    ::close(fd);
  }
}

Result<bool> DiskBackend::Contains(const Hash128& key) {
  {
    std::lock_guard lock(mu_);
    if (index_.count(key)) return true;
  }
  return env_->FileExists(PathFor(key));
}

Status DiskBackend::Erase(const Hash128& key) {
  {
    std::lock_guard lock(mu_);
    EraseLocked(key);
    ++counters_.erases;
  }
  std::string path = PathFor(key);
  if (!env_->FileExists(path)) return Status::OK();
  Status s = env_->DeleteFile(path);
  return s.ok() || !env_->FileExists(path) ? Status::OK() : s;
}

TierBackendStats DiskBackend::stats() const {
  std::lock_guard lock(mu_);
  TierBackendStats s = counters_;
  s.entries = static_cast<int64_t>(index_.size());
  s.bytes = bytes_;
  return s;
}

std::string DiskBackend::DebugString() const {
  TierBackendStats s = stats();
  std::ostringstream os;
  os << "DiskBackend{" << options_.name << " " << options_.dir << " entries=" << s.entries
     << " bytes=" << FormatBytes(s.bytes) << "/" << FormatBytes(s.capacity_bytes) << " hits=" << s.hits << "/"
     << s.gets << " puts=" << s.puts << " failed=" << s.put_failures << " evictions=" << s.evictions << "}";
  return os.str();
}

Status DiskBackend::CheckInvariants() const {
  std::lock_guard lock(mu_);
  uint64_t sum = 0;
  for (const auto& [key, e] : index_) {
    sum += e.size_bytes;
    if (*e.lru_pos != key) return InternalError("disk tier: LRU position of " + key.ToHex() + " is stale");
  }
  if (sum != bytes_) return InternalError("disk tier: byte count drifted");
  if (lru_.size() != index_.size()) return InternalError("disk tier: LRU and index sizes differ");
  if (bytes_ > options_.capacity_bytes) return InternalError("disk tier: over budget");
  return Status::OK();
}

}  // namespace swarmkv
