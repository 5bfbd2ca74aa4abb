// KvTiers: the engine backend's KV tiers below RAM (disk, shared dir, Redis) — opened from the
// serve flags, connected to the one shared KvMemory, consulted before each admission, and flushed
// on clean shutdown.
//
//   Open            OpenTiers (tiers/tier_stack.h) + ConnectTiers: evicted blocks are written back.
//   WriteThrough    (--kv-write-through on, the default) newly sealed blocks are written to the
//                   tiers while the write-back queue is idle (tiers/write_through.h), so kill -9
//                   loses only the last moments' blocks.
//   BeforeAdmission RestorePrefix for the blocks of a prompt that follow its RAM chain, so the
//                   scheduler's AttachPrefix finds them (counted as reused prompt tokens there).
//   ~KvTiers        stops the write-through, FlushMemoryToTiers within the flush deadline (most
//                   recently used first), then disconnects the hook.
//
// NOTE (restore on the submitting thread): restores run on the HTTP thread that submits, not on
// the engine thread, so a slow disk or Redis never stalls the decode steps of running requests.
// Restored blocks sit in RAM as cached blocks until the scheduler admits the request; if budget
// pressure evicts them meanwhile, the request recomputes them (correct, only slower).
//
// Invariant: a tier failure never fails a request — restores that fail are logged and the engine
// recomputes; only verified blocks enter RAM (tiers/tier_manager.h).
// Thread-safety: all methods thread-safe. REQUIRES: `memory` outlives this object, and no model
// runs when it is destroyed (its sequences are released, so their blocks can be flushed).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "base/hash.h"
#include "base/status.h"
#include "memory/kv_memory.h"
#include "server/backend.h"
#include "server/backend_factory.h"
#include "tiers/tier_stack.h"
#include "tiers/write_through.h"

namespace swarmkv {

class KvMemory;

class KvTiers {
 public:
  // InvalidArgument for bad flag values, IOError for a directory that cannot be created. A Redis
  // that is down is not an error: the server serves from RAM/disk and the tier reconnects.
  static Result<std::unique_ptr<KvTiers>> Open(const BackendOptions& options, KvMemory* memory);
  ~KvTiers();
  KvTiers(const KvTiers&) = delete;
  KvTiers& operator=(const KvTiers&) = delete;

  // Restores what the tiers hold of `prompt` beyond RAM; returns the tokens restored. Never
  // fails: problems are logged.
  int64_t BeforeAdmission(const Hash128& namespace_id, std::span<const int32_t> prompt);
  // A hook that queues a block for the tiers' write-back like an evicted one (the runner's cold
  // blocks: engine/cold_kv.h export_block). Valid while this object lives; never blocks.
  EvictionHook WriteHook();
  // A finished request's prefill: `tokens` computed in `nanos` (feeds the restore cost model).
  void OnPrefillMeasured(int64_t tokens, int64_t nanos);
  // Adds the tiers' usage rows and details to `kv`.
  void FillSnapshot(KvSnapshot* kv) const;

 private:
  KvTiers(KvMemory* memory, TierStack stack, int64_t flush_ms);

  // Constant after construction.
  KvMemory* const memory_;
  TierStack stack_;
  const int64_t flush_ms_;

  std::unique_ptr<WriteThrough> write_through_;  // null when off or without tiers; stopped first
  std::unique_ptr<std::atomic<uint64_t>[]> restored_tokens_;  // per tier, restore order
  std::mutex prefill_mu_;
  double prefill_tokens_per_second_ = 0;  // EWMA, guarded by prefill_mu_
};

}  // namespace swarmkv
