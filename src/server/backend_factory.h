// CreateServerBackend: builds the real ServerBackend (model loading, tokenizer, engine, memory
// core, tiers) from the serve command's options. An error names the bad option; `swarmkv serve`
// exits with it.
//
// Thread-safety: call once at start-up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "server/backend.h"
#include "tiers/tier_stack.h"

namespace swarmkv {

struct BackendOptions {
  int threads = 0;               // 0: physical cores
  std::string kv_memory = "25%"; // RAM budget for KV (bytes or % of RAM, base/units.h)
  std::string kv_type = "f16";   // f16, bf16, q8_0, q4_0
  int block_tokens = 32;
  TierConfig tiers;                    // KV tiers below RAM; off entirely when prefix_cache is false
  int64_t kv_shutdown_flush_ms = 5000; // clean shutdown writes cached RAM blocks to the tiers this long at most
  bool prefix_cache = true;            // false: no prefix is matched or restored; tiers are not opened
  // --kv-hot-window: tokens of each running sequence kept in RAM; older blocks go to the disk
  // tier's directory (cold/) and attention streams them back (engine/cold_kv.h). 0: off.
  int64_t kv_hot_window = 0;
  // --kv-checkpoint-interval: hybrid models keep a recurrent checkpoint in every k-th KV block;
  // 0: k from the cost model (engine/checkpoint_interval.h).
  int32_t kv_checkpoint_interval = 0;
};

Result<std::unique_ptr<ServerBackend>> CreateServerBackend(const BackendOptions& options);

}  // namespace swarmkv
