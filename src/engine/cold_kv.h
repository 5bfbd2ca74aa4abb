// ColdKv: context beyond RAM for one runner — the hot window, the choice of blocks that go cold,
// their disk files, and the stream that serves them to attention (docs/memory.md "Hot window").
//
// After every successful step, each stepped sequence's full blocks that lie entirely before its
// last `hot_window_tokens` tokens become cold: their bytes are written to the sequence's
// ColdKvFile (on the disk tier's directory) and their RAM slot is freed (KvMemory::MakeBlockCold)
// while the sequence keeps running. Before a step, BeginStep hands the batch's cold blocks to
// ColdKvStream, which reads them back layer by layer ahead of attention.
//
// Cost model (which blocks stay hot): a block read by k running sequences costs k streamed reads
// per step when cold but one slot when hot, so shared blocks (refcount > 1) and pinned prefixes
// always stay hot — KvMemory refuses to make them cold; every private block is read exactly once
// per step whatever its age, so among private blocks only recency matters: the newest
// hot_window_tokens stay (they are also the ones a truncation or a partial tail copy touches),
// older ones go cold oldest first.
//
// Swap (preemption, engine/preemption_cost.h): SwapOut makes every full private block of a
// preempted sequence cold, window or not, so it holds (almost) no RAM while it waits in the queue
// and resumes from the same blocks, streamed. With hot_window_tokens 0 the object only swaps.
//
// Tier entries (context across restarts): with `export_block` set, every block that goes cold is
// also handed to it as a sealed block (identity, parent, tokens, bytes) — the server queues it for
// the tiers' write-back, so a later process restores it like any evicted block. Best effort, like
// eviction write-back (a full queue drops it). Not for hybrid namespaces (cold blocks carry no
// recurrent state).
//
// Faults: a failed write leaves the block hot and is remembered; if that sequence later cannot
// reserve memory, Reserve fails it alone naming the disk error (instead of preempting it forever).
// A failed or corrupt read fails the step; the scheduler reruns each sequence alone, so only the
// sequence whose cold KV cannot be read fails, with the read error.
//
// Thread-safety: driven by the runner's (scheduler's) thread; stats() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/cold_kv_file.h"
#include "engine/cold_kv_stream.h"
#include "engine/step_batch.h"
#include "memory/kv_memory.h"

namespace swarmkv {

struct ColdKvOptions {
  int64_t hot_window_tokens = 0;        // rounded up to whole blocks; 0: no window, swap only
  std::string dir;                      // where sequences' cold files live (the disk tier's dir)
  int64_t max_tokens_per_sequence = 0;  // the longest context (sizes each file's layout)
  ColdKvFaults* faults = nullptr;       // tests only
  Hash128 namespace_id;                 // identities of exported blocks
  EvictionHook export_block;            // optional: each block that goes cold (see above); under KvMemory's lock
};

struct ColdKvStats {
  int64_t blocks_cold = 0;      // cold now, over all sequences
  int64_t blocks_written = 0;   // made cold since start
  int64_t write_errors = 0;
  int64_t swap_outs = 0;        // sequences swapped out (SwapOut that succeeded)
  int64_t blocks_swapped = 0;   // of blocks_written, those a SwapOut made cold
  int64_t blocks_exported = 0;  // handed to export_block
  double write_bytes_per_second = 0;  // measured cold-file writes (EWMA); 0 until measured
  double read_bytes_per_second = 0;   // measured streamed reads (all so far); 0 until measured
  ColdKvStreamStats stream;
  uint64_t stream_buffer_bytes = 0;
};

class ColdKv {
 public:
  static Result<std::unique_ptr<ColdKv>> Create(KvMemory* memory, const KvLayout& layout, ColdKvOptions options);

  AttentionKvSources* sources() { return &stream_; }
  int64_t hot_window_tokens() const { return options_.hot_window_tokens; }

  // Before the forward pass over `batch` (whose spans are reserved): streams its cold blocks.
  Status BeginStep(const StepBatch& batch);
  void EndStep() { stream_.EndStep(); }
  // After a successful step: blocks older than each span's hot window go cold.
  void SpillBeyondWindow(const StepBatch& batch);
  // Preemption by swap: every full private block of the sequence goes cold (the window too).
  // Returns the blocks made cold; on a write error the blocks before it stay cold (the caller
  // closes the sequence: nothing of it is reused).
  Result<int64_t> SwapOut(SlotId slot);
  // What a failed Reserve of `slot` reports: a ResourceExhausted of a slot whose spilling failed
  // becomes that (permanent) disk error, so the scheduler fails it instead of requeueing it.
  Status ExplainReserveFailure(SlotId slot, Status st) const;
  // The sequence was released (its cold blocks went with it): drops its file.
  void Forget(SlotId slot);

  ColdKvStats stats() const;
  void DropPageCache() const;  // benchmarks: cold reads then come from the device

 private:
  ColdKv(KvMemory* memory, const KvLayout& layout, ColdKvOptions options);
  struct Slot {
    std::unique_ptr<ColdKvFile> file;
    int64_t cold = 0;
    Status spill_error;
    std::vector<BlockId> chain;  // identities of its blocks (export_block only), grown on demand
  };
  // Makes blocks [0, limit) of the slot's sequence cold where they can be; returns the blocks made
  // cold, or the first write error (blocks before it stay cold and are counted).
  Result<int64_t> MakeCold(SlotId slot_id, Slot& slot, int64_t limit);
  void RecordWrite(uint64_t bytes, int64_t nanos);

  KvMemory* const memory_;
  const KvLayout layout_;
  const ColdKvOptions options_;
  ColdKvStream stream_;
  std::map<SlotId, Slot> slots_;
  mutable std::mutex stats_mu_;
  int64_t blocks_cold_ = 0, blocks_written_ = 0, write_errors_ = 0;
  int64_t swap_outs_ = 0, blocks_swapped_ = 0, blocks_exported_ = 0;
  double write_bytes_per_second_ = 0;
};

}  // namespace swarmkv
