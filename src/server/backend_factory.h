// CreateServerBackend: builds the real ServerBackend (model loading, tokenizer, engine, memory
// core, tiers) from the serve command's options.
//
// NOTE: until src/engine, src/model, src/tokenizer and src/memory exist this returns
// Unimplemented naming what is missing; `swarmkv serve` then still runs (registry, /api/tags,
// /api/show, /api/version, /metrics, validation) and answers generation requests with a 503.
//
// Thread-safety: call once at start-up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "server/backend.h"

namespace swarmkv {

struct BackendOptions {
  int threads = 0;               // 0: physical cores
  std::string kv_memory = "25%"; // RAM budget for KV (bytes or % of RAM, base/units.h)
  std::string kv_type = "f16";   // f16, bf16, q8_0, q4_0
  int block_tokens = 32;
  // KV tiers below RAM (tiers/tier_stack.h). Off entirely when prefix_cache is false.
  std::string kv_disk;                 // "" => $XDG_CACHE_HOME/swarmkv/kv; "off" => no disk tier
  std::string kv_disk_size = "50GiB";
  std::string kv_shared_dir;           // "" => no shared-directory tier
  std::string kv_shared_size = "50GiB";
  std::string kv_redis;                // redis://host:port/db (or host:port); "" => no Redis tier
  int64_t kv_redis_ttl_seconds = 0;    // 0: no TTL (Redis' maxmemory policy evicts)
  int kv_zstd_level = 1;               // 0: stored raw
  int64_t kv_shutdown_flush_ms = 5000; // clean shutdown writes cached RAM blocks to the tiers this long at most
  bool prefix_cache = true;            // false: no prefix is matched or restored; tiers are not opened
};

Result<std::unique_ptr<ServerBackend>> CreateServerBackend(const BackendOptions& options);

}  // namespace swarmkv
