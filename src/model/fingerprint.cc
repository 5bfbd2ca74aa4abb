#include "model/fingerprint.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "base/logging.h"
#include "base/thread_pool.h"

namespace swarmkv {
namespace {

constexpr std::string_view kCacheVersion = "skvfp1";

// Hash large tensors in chunks so a few huge tensors (token_embd) still spread over the pool.
constexpr uint64_t kChunkBytes = 64ull << 20;

struct Piece {
  size_t tensor;
  uint64_t begin, end;
};

}  // namespace

Hash128 ComputeWeightsFingerprint(const GgufFile& file) {
  const auto& tensors = file.tensors();
  std::vector<Piece> pieces;
  std::vector<size_t> first_piece(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    first_piece[i] = pieces.size();
    uint64_t n = tensors[i].size_bytes;
    uint64_t b = 0;
    do {
      uint64_t e = std::min(n, b + kChunkBytes);
      pieces.push_back({i, b, e});
      b = e;
    } while (b < n);
  }
  std::vector<Hash128> piece_hash(pieces.size());
  ThreadPool::Default().ParallelFor(static_cast<int64_t>(pieces.size()), [&](int64_t p, int) {
    const Piece& pc = pieces[p];
    piece_hash[p] = HashBytes(tensors[pc.tensor].data + pc.begin, pc.end - pc.begin);
  });
  Hasher128 h;
  h.UpdateString("swarmkv-weights-fingerprint-v1");
  h.UpdateU64(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    h.UpdateString(t.name).UpdateU32(t.type_id).UpdateU32(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) h.UpdateU64(d);
    h.UpdateU64(t.size_bytes);
    size_t end = i + 1 < tensors.size() ? first_piece[i + 1] : pieces.size();
    for (size_t p = first_piece[i]; p < end; ++p) h.UpdateHash(piece_hash[p]);
  }
  return h.Digest();
}

std::optional<Hash128> FingerprintFromOllamaBlobName(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  constexpr std::string_view kPrefix = "sha256-";
  if (name.size() != kPrefix.size() + 64 || name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string hex(name.substr(kPrefix.size()));
  for (char& c : hex) {
    bool digit = c >= '0' && c <= '9', lower = c >= 'a' && c <= 'f', upper = c >= 'A' && c <= 'F';
    if (!digit && !lower && !upper) return std::nullopt;
    if (upper) c = static_cast<char>(c - 'A' + 'a');
  }
  return HashBytes("ollama-sha256:" + hex);
}

std::string DefaultFingerprintCachePath() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/swarmkv/fingerprints";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/swarmkv/fingerprints";
  return "";
}

namespace {

// One cache line: "skvfp1 <fp hex> <size> <mtime_ns> <inode> <device> <checksum hex> <path>".
// The checksum covers everything else on the line.
std::string LineBody(const Hash128& fp, const FileInfo& info, const std::string& path) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%s %" PRIu64 " %" PRId64 " %" PRIu64 " %" PRIu64, fp.ToHex().c_str(),
                info.size_bytes, info.mtime_ns, info.inode, info.device);
  return std::string(buf) + " " + path;
}

uint64_t LineChecksum(const std::string& body) { return Checksum64(body.data(), body.size()); }

struct CacheLine {
  Hash128 fp;
  FileInfo info;
  std::string path;
};

std::optional<CacheLine> ParseLine(const std::string& line) {
  std::istringstream in(line);
  std::string version, fp_hex, sum_hex;
  CacheLine c;
  if (!(in >> version >> fp_hex >> c.info.size_bytes >> c.info.mtime_ns >> c.info.inode >> c.info.device >> sum_hex))
    return std::nullopt;
  if (version != kCacheVersion) return std::nullopt;
  in.get();  // the single space before the path
  std::getline(in, c.path);
  auto fp = Hash128::FromHex(fp_hex);
  if (!fp || c.path.empty()) return std::nullopt;
  c.fp = *fp;
  char* end = nullptr;
  uint64_t sum = std::strtoull(sum_hex.c_str(), &end, 16);
  if (end == sum_hex.c_str() || *end != '\0') return std::nullopt;
  if (sum != LineChecksum(LineBody(c.fp, c.info, c.path))) return std::nullopt;
  return c;
}

std::string FormatLine(const Hash128& fp, const FileInfo& info, const std::string& path) {
  std::string body = LineBody(fp, info, path);
  char sum[32];
  std::snprintf(sum, sizeof(sum), "%016" PRIx64, LineChecksum(body));
  // Insert the checksum before the path to keep the path last (it may contain spaces).
  size_t path_at = body.size() - path.size();
  return std::string(kCacheVersion) + " " + body.substr(0, path_at) + sum + " " + path;
}

bool SameKey(const FileInfo& a, const FileInfo& b) {
  return a.size_bytes == b.size_bytes && a.mtime_ns == b.mtime_ns && a.inode == b.inode && a.device == b.device;
}

constexpr size_t kMaxCacheLines = 1024;

}  // namespace

Result<FingerprintResult> GetWeightsFingerprint(const GgufFile& file, const FingerprintOptions& options) {
  const std::string& path = file.path();
  if (options.use_ollama_blob_name && !path.empty()) {
    if (auto fp = FingerprintFromOllamaBlobName(path)) return FingerprintResult{*fp, FingerprintSource::kOllamaBlobName};
  }
  if (path.empty() || options.cache_path.empty() || path.find('\n') != std::string::npos)
    return FingerprintResult{ComputeWeightsFingerprint(file), FingerprintSource::kHashed};

  SKV_ASSIGN_OR_RETURN(FileInfo info, options.env->Stat(path));
  std::vector<std::string> keep;
  if (auto text = options.env->ReadFile(options.cache_path); text.ok()) {
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      auto c = ParseLine(line);
      if (!c) continue;  // torn or corrupt: ignored
      if (c->path == path) {
        if (SameKey(c->info, info)) return FingerprintResult{c->fp, FingerprintSource::kCache};
        continue;  // stale entry for this path: replaced below
      }
      keep.push_back(line);
    }
  }
  Hash128 fp = ComputeWeightsFingerprint(file);
  if (keep.size() >= kMaxCacheLines) keep.erase(keep.begin(), keep.begin() + (keep.size() - kMaxCacheLines + 1));
  keep.push_back(FormatLine(fp, info, path));
  std::string out;
  for (const auto& l : keep) out += l + "\n";
  size_t slash = options.cache_path.rfind('/');
  Status s = slash == std::string::npos ? Status::OK() : options.env->CreateDirs(options.cache_path.substr(0, slash));
  if (s.ok()) s = options.env->WriteFileAtomic(options.cache_path, out, /*sync=*/false);
  if (!s.ok()) SKV_LOG(WARN) << "could not update the fingerprint cache: " << s.ToString();
  return FingerprintResult{fp, FingerprintSource::kHashed};
}

}  // namespace swarmkv
