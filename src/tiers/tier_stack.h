// TierStack: the tiers a server runs with, built from its command-line flags in one call.
//
//   --kv-disk DIR       local disk tier ("" = the default $XDG_CACHE_HOME/swarmkv/kv; "off" = none)
//   --kv-disk-size N    its budget (default 50GiB; bytes like 20GiB)
//   --kv-shared-dir P   shared-directory tier (NFS), below the local disk ("" = none)
//   --kv-shared-size N  its budget (default 50GiB)
//   --kv-redis URL      redis://host:port/db (rediss:// for TLS), below the shared dir ("" = none)
//   --redis-tls-ca/-cert/-key/-server-name/-insecure  rediss:// settings (redis_tls.h)
//   --kv-redis-ttl S    TTL of Redis entries in seconds (0 = none; Redis' maxmemory LRU evicts)
//   --kv-zstd-level N   compression level of written entries (0 = raw)
//   --kv-secret S       entries are signed with HMAC-SHA256 and stored under keyed names
//                       (entry_mac.h); unsigned or forged entries are dropped (mac_rejected)
//   --kv-write-through on|off  newly sealed blocks are written to the tiers when the write-back
//                       queue is idle (tiers/write_through.h; the caller starts it: it needs the
//                       memory core)
//
// Restore order is disk, shared dir, Redis; evicted blocks are written to every tier (so a
// block evicted here is also available to the other servers sharing the dir or the Redis).
//
// Invariant: the manager is destroyed before the backends it points at (member order).
// Thread-safety: the stack is built once; the parts are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tiers/redis_tls.h"
#include "tiers/tier_manager.h"

namespace swarmkv {

struct TierConfig {
  std::string disk_dir;  // "" = DefaultDiskTierDir(); "off" = no disk tier
  std::string disk_size = "50GiB";
  std::string shared_dir;
  std::string shared_size = "50GiB";
  std::string redis_url;
  int64_t redis_ttl_seconds = 0;
  RedisTlsOptions redis_tls;  // rediss:// only
  int zstd_level = 1;
  std::string kv_secret;  // "" : entries are not authenticated (docs/security.md)
  bool write_through = true;  // --kv-write-through (read by the server, which owns the memory core)
};

struct TierStack {
  std::vector<std::unique_ptr<TierBackend>> backends;  // restore order
  std::unique_ptr<TierManager> manager;                // declared last: destroyed first
};

// InvalidArgument for a bad size, URL or level; IOError when a directory cannot be created.
// A Redis server that is down is not an error (the tier reconnects in the background).
Result<TierStack> OpenTiers(const TierConfig& config);

}  // namespace swarmkv
