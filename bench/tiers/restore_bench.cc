// tiers_bench: how fast a 16k-token cached prefix comes back from each tier.
//
// Geometry: synthetic SmolLM2-135M KV (30 layers, 3 KV heads, head dim 64, f16, 32-token blocks:
// 720 KiB per block, 512 blocks = 360 MiB for 16k tokens). Synthetic values (tiers/synthetic_kv.h),
// not a real model's KV: the engine cannot produce KV yet.
//
// Prints one JSON object per line:
//   compression     ratio and encode/decode speed per zstd level
//   ram_copy        memcpy of the prefix (the RAM tier's restore)
//   disk_seq_read   one file of the same size read sequentially with the page cache dropped, three
//                   ways (1 MiB reads; WILLNEED + 4 MiB reads; O_DIRECT 4 MiB reads) and the best
//   restore         TierManager::RestoreInto of the whole chain per tier (cold and warm page
//                   cache, Redis on loopback) with a sink that copies each verified block into a
//                   preallocated arena (the copy InsertSealedBlock makes into its pool slot):
//                   decoded KV GB/s, and the share of disk_seq_read
//   restore_prefix  RestorePrefix into a real KvMemory (probe, restore, InsertSealedBlock): what a
//                   prefix hit after a restart costs before the engine runs
//   index_rebuild   DiskBackend::Open over N entries
//
// Usage: tiers_bench [--dir D] [--tokens N] [--index-entries N] [--levels 0,1,3] [--parallelism 1,4]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "base/sysinfo.h"
#include "memory/block_id.h"
#include "memory/kv_memory.h"
#include "tiers/disk_backend.h"
#include "tiers/memory_bridge.h"
#include "tiers/synthetic_kv.h"
#include "tiers/tier_manager.h"
#ifdef SWARMKV_BENCH_REDIS
#include "redis_server.h"
#include "test_pki.h"
#include "tiers/redis_backend.h"
#endif

namespace swarmkv {
namespace {

double Seconds(int64_t start_ns) { return static_cast<double>(MonotonicNanos() - start_ns) * 1e-9; }

// Drops a file's pages from the page cache (it must be clean: written and synced).
void DropCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

void DropDirCache(const std::string& dir) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) DropCache(e.path().string());
  }
}

struct Prefix {
  const Hash128 ns{0xBE, 0x4C};
  EntryLayout layout = SmolLm2KvLayout();
  std::vector<EntryMeta> metas;
  std::vector<std::vector<uint8_t>> kv;
  std::vector<Hash128> ids;
  uint64_t bytes = 0;
  std::vector<int32_t> tokens;  // the whole prefix, for RestorePrefix
  explicit Prefix(int blocks) {
    Hash128 parent;
    for (int i = 0; i < blocks; ++i) {
      metas.push_back(SyntheticMeta(layout, ns, parent, 1000 + i));
      metas.back().id = ComputeBlockId(ns, parent, metas.back().tokens);  // the memory core's identity
      tokens.insert(tokens.end(), metas.back().tokens.begin(), metas.back().tokens.end());
      kv.push_back(SyntheticKvBlock(layout, 1000 + i));
      parent = metas.back().id;
      ids.push_back(parent);
      bytes += kv.back().size();
    }
  }
  TierBlock Block(int i) const {
    return TierBlock{metas[i].namespace_id, metas[i].id, metas[i].parent, metas[i].tokens, kv[i], {}, layout};
  }
};

// Restores the whole chain, copying each verified block into `arena` (as InsertSealedBlock copies
// into its slot).
RestoreResult RestoreToArena(TierManager& tm, const Prefix& p, std::vector<uint8_t>* arena) {
  size_t off = 0;
  return tm.RestoreInto(p.ns, Hash128{}, p.ids, p.layout, [&](const RestoredView& v) {
    if (off + v.kv_bytes.size() > arena->size()) return false;
    std::memcpy(arena->data() + off, v.kv_bytes.data(), v.kv_bytes.size());
    off += v.kv_bytes.size();
    return true;
  });
}

// A memory core with room for the whole prefix and the synthetic model's namespace.
std::unique_ptr<KvMemory> NewMemory(const Prefix& p) {
  KvMemoryOptions o;
  o.budget_bytes = p.bytes + (64ull << 20);
  auto m = KvMemory::Create(std::move(o)).value();
  NamespaceOptions ns;
  ns.id = p.ns;
  ns.name = "bench";
  ns.shape.num_layers = static_cast<int32_t>(p.layout.num_layers);
  ns.shape.num_kv_heads = static_cast<int32_t>(p.layout.num_kv_heads);
  ns.shape.head_dim_k = static_cast<int32_t>(p.layout.head_dim_k);
  ns.shape.head_dim_v = static_cast<int32_t>(p.layout.head_dim_v);
  ns.shape.block_tokens = static_cast<int32_t>(p.layout.block_tokens);
  if (!m->RegisterNamespace(ns).ok()) std::abort();
  return m;
}

// The disk's sequential read of one file of `bytes`, page cache dropped, three ways (each
// printed): "read_1m" (1 MiB read() calls: the kernel's default readahead), "willneed_4m"
// (fadvise WILLNEED on the whole file first, then 4 MiB reads: deep queue through the page cache,
// as the restore reads), "direct_4m" (O_DIRECT 4 MiB reads: no page cache at all). Returns the
// best: the baseline a restore's share is taken of.
double DiskSequentialRead(const std::string& dir, uint64_t bytes) {
  std::string path = dir + "/seq.bin";
  {
    std::vector<uint8_t> buf(1 << 20);
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (uint64_t done = 0; done < bytes; done += buf.size()) {
      if (::write(fd, buf.data(), buf.size()) < 0) break;
    }
    ::fdatasync(fd);
    ::close(fd);
  }
  const size_t kBuf = 4 << 20;
  void* raw = nullptr;
  if (::posix_memalign(&raw, 4096, kBuf) != 0) std::abort();
  uint8_t* buf = static_cast<uint8_t*>(raw);
  double best = 0;
  for (const char* how : {"read_1m", "willneed_4m", "direct_4m"}) {
    const std::string h = how;
    DropCache(path);
    int64_t start = MonotonicNanos();
    int fd = ::open(path.c_str(), O_RDONLY | (h == "direct_4m" ? O_DIRECT : 0));
    if (fd < 0) continue;
    if (h == "willneed_4m") ::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    const size_t chunk = h == "read_1m" ? (1 << 20) : kBuf;
    uint64_t total = 0;
    for (ssize_t n; (n = ::read(fd, buf, chunk)) > 0;) total += static_cast<uint64_t>(n);
    ::close(fd);
    const double bw = static_cast<double>(total) / Seconds(start);
    std::printf("{\"bench\":\"disk_seq_read\",\"how\":\"%s\",\"bytes\":%llu,\"page_cache\":\"dropped\",\"gb_per_s\":%.3f}\n",
                how, static_cast<unsigned long long>(total), bw / 1e9);
    best = std::max(best, bw);
  }
  std::free(raw);
  std::filesystem::remove(path);
  return best;
}

void PrintRestore(const std::string& tier, const std::string& cache, int level, int parallelism, const Prefix& p, double seconds,
                  size_t restored, double seq_bw, uint64_t stored_bytes) {
  const double bw = static_cast<double>(p.bytes) / seconds;
  std::printf("{\"bench\":\"restore\",\"tier\":\"%s\",\"page_cache\":\"%s\",\"zstd_level\":%d,\"parallelism\":%d,\"blocks\":%zu,"
              "\"kv_bytes\":%llu,\"stored_bytes\":%llu,\"seconds\":%.4f,\"kv_gb_per_s\":%.3f,"
              "\"stored_gb_per_s\":%.3f,\"share_of_disk_seq_read\":%.3f}\n",
              tier.c_str(), cache.c_str(), level, parallelism, restored, static_cast<unsigned long long>(p.bytes),
              static_cast<unsigned long long>(stored_bytes), seconds, bw / 1e9,
              static_cast<double>(stored_bytes) / seconds / 1e9, seq_bw > 0 ? bw / seq_bw : 0.0);
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  std::string dir = "/var/tmp/swarmkv-tiers-bench";
  int tokens = 16384;
  int index_entries = 100000;
  std::vector<int> levels = {0, 1, 3};
  std::vector<int> parallelism = {1, 4};
  auto parse_list = [](const std::string& v) {
    std::vector<int> out;
    std::stringstream ss(v);
    for (std::string x; std::getline(ss, x, ',');) out.push_back(std::stoi(x));
    return out;
  };
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--dir") dir = v;
    else if (a == "--tokens") tokens = std::stoi(v);
    else if (a == "--index-entries") index_entries = std::stoi(v);
    else if (a == "--levels") levels = parse_list(v);
    else if (a == "--parallelism") parallelism = parse_list(v);
    else {
      std::cerr << "unknown flag " << a << "\n";
      return 2;
    }
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const Prefix p(tokens / 32);

  // Compression ratio and codec speed.
  for (int level : levels) {
    uint64_t stored = 0;
    int64_t start = MonotonicNanos();
    std::vector<std::string> entries;
    for (size_t i = 0; i < p.metas.size(); ++i) {
      entries.push_back(EncodeEntry(p.metas[i], p.kv[i], {}, {.zstd_level = level}).value());
      stored += entries.back().size();
    }
    double enc_s = Seconds(start);
    start = MonotonicNanos();
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!DecodeEntry(AsBytes(entries[i]), p.metas[i].namespace_id, p.ids[i]).ok()) return 1;
    }
    double dec_s = Seconds(start);
    std::printf("{\"bench\":\"compression\",\"data\":\"synthetic_f16_gaussian_per_channel_scale\",\"zstd_level\":%d,"
                "\"ratio\":%.4f,\"encode_gb_per_s\":%.3f,\"decode_gb_per_s\":%.3f}\n",
                level, static_cast<double>(p.bytes) / static_cast<double>(stored), p.bytes / enc_s / 1e9,
                p.bytes / dec_s / 1e9);
  }

  // RAM: what a RAM-tier hit costs if the bytes are copied at all (they are not: shared in place).
  {
    std::vector<uint8_t> dst(p.bytes);
    double best = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
      int64_t start = MonotonicNanos();
      size_t off = 0;
      for (const auto& b : p.kv) {
        std::memcpy(dst.data() + off, b.data(), b.size());
        off += b.size();
      }
      best = std::min(best, Seconds(start));
    }
    std::printf("{\"bench\":\"ram_copy\",\"kv_bytes\":%llu,\"seconds\":%.4f,\"kv_gb_per_s\":%.3f}\n",
                static_cast<unsigned long long>(p.bytes), best, p.bytes / best / 1e9);
  }

  // Where restored blocks land (stands in for the pool's slots), touched once up front.
  std::vector<uint8_t> arena(p.bytes, 0);
  const double seq_bw = DiskSequentialRead(dir, p.bytes);
  std::printf("{\"bench\":\"disk_seq_read\",\"how\":\"best\",\"bytes\":%llu,\"page_cache\":\"dropped\",\"gb_per_s\":%.3f}\n",
              static_cast<unsigned long long>(p.bytes), seq_bw / 1e9);

  for (int level : levels) {
    std::string sub = dir + "/disk-l" + std::to_string(level);
    DiskBackendOptions o;
    o.dir = sub;
    o.capacity_bytes = 4ull << 30;
    auto disk = DiskBackend::Open(o).value();
    {
      TierManager tm({.tiers = {{disk.get(), true}}, .queue_max_blocks = 1 << 20, .queue_max_bytes = 1ull << 34,
                      .encode = {.zstd_level = level}});
      for (size_t i = 0; i < p.metas.size(); ++i) tm.OnEvicted(p.Block(static_cast<int>(i)));
      tm.Flush();
    }
    const uint64_t stored = disk->stats().bytes;
    for (int par : parallelism) {
      for (const char* cache : {"dropped", "warm"}) {
        if (std::string(cache) == "dropped") DropDirCache(sub);
        TierManager tm({.tiers = {{disk.get(), false}}, .restore_parallelism = par});
        int64_t start = MonotonicNanos();
        RestoreResult r = RestoreToArena(tm, p, &arena);
        double s = Seconds(start);
        PrintRestore("disk", cache, level, par, p, s, static_cast<size_t>(r.blocks_delivered), seq_bw, stored);
      }
      // The whole prefix-hit path into a real KvMemory, page cache dropped (a restart's case).
      DropDirCache(sub);
      auto memory = NewMemory(p);
      TierManager tm({.tiers = {{disk.get(), false}}, .restore_parallelism = par});
      int64_t start = MonotonicNanos();
      auto r = RestorePrefix(*memory, tm, p.ns, p.tokens);
      double s = Seconds(start);
      std::printf("{\"bench\":\"restore_prefix\",\"tier\":\"disk\",\"page_cache\":\"dropped\",\"zstd_level\":%d,"
                  "\"parallelism\":%d,\"blocks\":%lld,\"seconds\":%.4f,\"kv_gb_per_s\":%.3f,\"share_of_disk_seq_read\":%.3f}\n",
                  level, par, r.ok() ? static_cast<long long>(r->restored_blocks) : -1LL, s, p.bytes / s / 1e9,
                  p.bytes / s / seq_bw);
      std::fflush(stdout);
    }
  }

#ifdef SWARMKV_BENCH_REDIS
  // Plain TCP, then TLS (rediss://, a CA made here; tier "rediss") against the same kind of server
  // in the same run.
  std::optional<testing::TestPki> pki;
  for (const bool tls : {false, true}) {
    const char* tier = tls ? "rediss" : "redis";
    std::string why;
    if (tls) pki = testing::TestPki::Make(&why);
    auto server = !tls ? testing::RedisServer::Start(&why)
                  : pki ? testing::RedisServer::StartTls(&why, pki->RedisServerArgs(pki->server_cert, pki->server_key, false))
                        : nullptr;
    if (!server) {
      std::printf("{\"bench\":\"restore\",\"tier\":\"%s\",\"skipped\":\"%s\"}\n", tier, why.c_str());
    } else {
      for (int level : levels) {
        RedisBackendOptions ro{.url = tls ? server->tls_url("127.0.0.1", level) : server->url(level)};
        if (tls) ro.tls.ca_path = pki->ca_cert;
        auto redis = RedisBackend::Open(ro).value();
        const int tm_parallelism = parallelism.back();
        TierManager tm({.tiers = {{redis.get(), true}}, .queue_max_blocks = 1 << 20, .queue_max_bytes = 1ull << 34,
                        .encode = {.zstd_level = level}, .restore_parallelism = tm_parallelism});
        for (size_t i = 0; i < p.metas.size(); ++i) tm.OnEvicted(p.Block(static_cast<int>(i)));
        tm.Flush();
        uint64_t stored = 0;
        for (const auto& id : p.ids) stored += redis->Get(id).value()->size();
        int64_t start = MonotonicNanos();
        RestoreResult r = RestoreToArena(tm, p, &arena);
        double s = Seconds(start);
        PrintRestore(tier, "n/a", level, tm_parallelism, p, s, static_cast<size_t>(r.blocks_delivered), seq_bw, stored);
      }
    }
  }
#endif

  // Index rebuild: N small entries (names and sizes are all Open reads).
  if (index_entries > 0) {
    std::string sub = dir + "/index";
    DiskBackendOptions o;
    o.dir = sub;
    o.capacity_bytes = 1ull << 40;
    {
      auto disk = DiskBackend::Open(o).value();
      std::vector<uint8_t> small(64, 1);
      for (int i = 0; i < index_entries; ++i) {
        const uint64_t n = static_cast<uint64_t>(i);
        if (!disk->Put(HashBytes(&n, sizeof(n)), small).ok()) return 1;  // identities are XXH3 values
      }
    }
    int64_t start = MonotonicNanos();
    auto disk = DiskBackend::Open(o).value();
    double s = Seconds(start);
    std::printf("{\"bench\":\"index_rebuild\",\"entries\":%lld,\"seconds\":%.3f,\"page_cache\":\"warm\"}\n",
                static_cast<long long>(disk->stats().entries), s);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace swarmkv

int main(int argc, char** argv) { return swarmkv::Main(argc, argv); }
