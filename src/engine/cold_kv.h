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

#include "engine/cold_kv_file.h"
#include "engine/cold_kv_stream.h"
#include "engine/step_batch.h"
#include "memory/kv_memory.h"

namespace swarmkv {

struct ColdKvOptions {
  int64_t hot_window_tokens = 0;        // > 0 (rounded up to whole blocks when applied)
  std::string dir;                      // where sequences' cold files live (the disk tier's dir)
  int64_t max_tokens_per_sequence = 0;  // the longest context (sizes each file's layout)
  ColdKvFaults* faults = nullptr;       // tests only
};

struct ColdKvStats {
  int64_t blocks_cold = 0;      // cold now, over all sequences
  int64_t blocks_written = 0;   // made cold since start
  int64_t write_errors = 0;
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
  };

  KvMemory* const memory_;
  const KvLayout layout_;
  const ColdKvOptions options_;
  ColdKvStream stream_;
  std::map<SlotId, Slot> slots_;
  mutable std::mutex stats_mu_;
  int64_t blocks_cold_ = 0, blocks_written_ = 0, write_errors_ = 0;
};

}  // namespace swarmkv
