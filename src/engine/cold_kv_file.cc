#include "engine/cold_kv_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/hash.h"

namespace swarmkv {
namespace {

std::atomic<uint64_t> g_next_file{0};

Status PWriteAll(int fd, const uint8_t* p, size_t n, off_t off, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return IOError("cold KV file " + path + ": write: " + std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += w;
  }
  return Status::OK();
}

}  // namespace

int64_t RemoveStaleColdFiles(const std::string& dir) {
  std::error_code ec;
  int64_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    // cold-<pid>-<n>.kv
    if (name.rfind("cold-", 0) != 0 || name.size() < 9 || name.substr(name.size() - 3) != ".kv") continue;
    const size_t dash = name.find('-', 5);
    if (dash == std::string::npos) continue;
    const std::string pid_text = name.substr(5, dash - 5);
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid <= 0 || pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    std::error_code rm;
    if (std::filesystem::remove(entry.path(), rm)) ++removed;
  }
  return removed;
}

Result<std::unique_ptr<ColdKvFile>> ColdKvFile::Create(const ColdKvFileOptions& options) {
  if (options.dir.empty()) return InvalidArgumentError("cold KV file: no directory");
  if (options.num_layers <= 0 || options.slice_bytes <= 0 || options.max_blocks <= 0)
    return InvalidArgumentError("cold KV file: layers, slice bytes and max blocks must be > 0");
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return IOError("cold KV file: cannot create " + options.dir + ": " + ec.message());
  const std::string path = options.dir + "/cold-" + std::to_string(::getpid()) + "-" +
                           std::to_string(g_next_file.fetch_add(1)) + ".kv";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IOError("cold KV file: cannot create " + path + ": " + std::strerror(errno));
  return std::unique_ptr<ColdKvFile>(new ColdKvFile(options, fd, path));
}

ColdKvFile::ColdKvFile(ColdKvFileOptions options, int fd, std::string path)
    : options_(std::move(options)), fd_(fd), path_(std::move(path)) {
}

ColdKvFile::~ColdKvFile() {
  if (fd_ >= 0) ::close(fd_);
  ::unlink(path_.c_str());
}

void ColdKvFile::DropPageCache() const { ::posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED); }

Status ColdKvFile::WriteBlock(int64_t index, std::span<const uint8_t> block_bytes) {
  const int64_t S = options_.slice_bytes;
  if (index < 0 || index >= options_.max_blocks)
    return OutOfRangeError("cold KV file: block " + std::to_string(index) + " beyond its " +
                           std::to_string(options_.max_blocks) + " blocks");
  if (static_cast<int64_t>(block_bytes.size()) < options_.num_layers * S)
    return InvalidArgumentError("cold KV file: block of " + std::to_string(block_bytes.size()) + " bytes, " +
                                std::to_string(options_.num_layers * S) + " expected");
  ColdKvFaults* f = options_.faults;
  if (written_.size() <= static_cast<size_t>(index)) {
    written_.resize(static_cast<size_t>(index) + 1, 0);
    checksums_.resize(written_.size() * static_cast<size_t>(options_.num_layers), 0);
  }
  for (int l = 0; l < options_.num_layers; ++l) {
    if (f != nullptr && f->fail_writes.load()) {
      return IOError("cold KV file " + path_ + ": write: No space left on device (injected)");
    }
    const size_t slot = static_cast<size_t>(l * options_.max_blocks + index);
    SKV_RETURN_IF_ERROR(PWriteAll(fd_, block_bytes.data() + l * S, static_cast<size_t>(S),
                                  static_cast<off_t>(slot) * S, path_));
    checksums_[static_cast<size_t>(index * options_.num_layers + l)] = Checksum64(block_bytes.data() + l * S, static_cast<size_t>(S));
    if (f != nullptr) f->writes.fetch_add(1);
  }
  written_[static_cast<size_t>(index)] = 1;
  return Status::OK();
}

Status ColdKvFile::ReadSlices(int layer, int64_t first, int64_t count, uint8_t* dst) const {
  const int64_t S = options_.slice_bytes;
  if (layer < 0 || layer >= options_.num_layers || first < 0 || count < 0 || first + count > options_.max_blocks)
    return OutOfRangeError("cold KV file: read of layer " + std::to_string(layer) + " blocks [" +
                           std::to_string(first) + ", " + std::to_string(first + count) + ") out of range");
  for (int64_t b = first; b < first + count; ++b) {
    if (static_cast<size_t>(b) >= written_.size() || !written_[static_cast<size_t>(b)])
      return FailedPreconditionError("cold KV file: block " + std::to_string(b) + " was never written");
  }
  ColdKvFaults* f = options_.faults;
  if (f != nullptr) {
    f->reads.fetch_add(1);
    if (f->fail_reads.load()) return IOError("cold KV file " + path_ + ": read: Input/output error (injected)");
  }
  size_t n = static_cast<size_t>(count * S);
  off_t off = static_cast<off_t>(layer * options_.max_blocks + first) * S;
  uint8_t* p = dst;
  while (n > 0) {
    const ssize_t r = ::pread(fd_, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return IOError("cold KV file " + path_ + ": read: " + (r < 0 ? std::strerror(errno) : "short file"));
    p += r;
    n -= static_cast<size_t>(r);
    off += r;
  }
  if (f != nullptr && f->flip_reads.load() && count > 0) dst[S / 2] ^= 0x40;
  for (int64_t i = 0; i < count; ++i) {
    const size_t slot = static_cast<size_t>((first + i) * options_.num_layers + layer);
    if (Checksum64(dst + i * S, static_cast<size_t>(S)) != checksums_[slot])
      return CorruptionError("cold KV file " + path_ + ": layer " + std::to_string(layer) + " of block " +
                             std::to_string(first + i) + " does not match its checksum");
  }
  return Status::OK();
}

}  // namespace swarmkv
