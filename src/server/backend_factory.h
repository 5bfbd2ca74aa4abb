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
  std::string kv_disk;           // "" => no disk tier
  std::string redis;             // "host:port", "" => no Redis tier
  bool prefix_cache = true;
};

Result<std::unique_ptr<ServerBackend>> CreateServerBackend(const BackendOptions& options);

}  // namespace swarmkv
