// StepStats: what the engine's steps were made of and how long they took, by kind of step —
// "decode" (decode rows only), "mixed" (decode rows beside prefill chunks), "prefill" (prompt
// rows only). A decode row is a one-token span that samples (a running sequence's next token);
// every other row is a prefill row. The split lets a benchmark tell batched decode throughput
// (decode rows per second of decode steps) from time other sequences' prompts took, which a
// client-side tokens/s cannot (swarm-bench reads the totals from /metrics).
//
// Optionally (SWARMKV_STEP_TRACE=path in the environment, for profiling) it appends one
// tab-separated line per step to that file: time since the first step (ms), spans, decode
// rows, prefill rows, time forming the step, in Forward, and sampling/streaming its tokens (ms),
// and the CPU time the whole process used since the previous step ended (ms; 0 for the first).
//
// Invariant: totals only grow; each Record adds exactly one step to exactly one kind.
// Thread-safety: Record from one thread (the engine's); Totals from any thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>

#include "engine/step_batch.h"

namespace swarmkv {

struct StepKindTotals {
  int64_t steps = 0;
  int64_t decode_rows = 0;
  int64_t prefill_rows = 0;
  int64_t forward_ns = 0;  // in the runner's Forward
  int64_t step_ns = 0;     // forming the step, Forward, sampling and streaming its tokens

  StepKindTotals& operator+=(const StepKindTotals& o);
};

struct StepTotals {
  StepKindTotals decode, mixed, prefill;

  StepTotals& operator+=(const StepTotals& o);
};

// Rows of one step by kind (see the header comment).
struct StepShape {
  int64_t decode_rows = 0;
  int64_t prefill_rows = 0;
  int64_t spans = 0;
};
StepShape ShapeOf(const StepBatch& batch);

class StepStats {
 public:
  // Opens the trace named by SWARMKV_STEP_TRACE, if set (a file that cannot be opened: no trace).
  StepStats();
  ~StepStats();
  StepStats(const StepStats&) = delete;
  StepStats& operator=(const StepStats&) = delete;

  // One step: its shape and its phase boundaries (MonotonicNanos): begin -> formed -> forward
  // done -> end (tokens sampled and streamed).
  void Record(const StepShape& shape, int64_t begin_ns, int64_t formed_ns, int64_t forward_done_ns, int64_t end_ns);
  StepTotals Totals() const;

 private:
  mutable std::mutex mu_;
  StepTotals totals_;
  std::FILE* trace_ = nullptr;  // engine thread only
  int64_t first_ns_ = 0;
  int64_t last_cpu_ns_ = 0;  // process CPU time at the last traced step's end
};

}  // namespace swarmkv
