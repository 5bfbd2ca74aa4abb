// ColdKvStream: streams a step's cold KV blocks from their ColdKvFiles to attention, reading the
// next chunk while attention computes the current one (double-buffered, asynchronous reads).
//
// A chunk is one layer's slices of one sequence's cold blocks — exactly what one PagedAttention
// call needs. The forward pass visits chunks in a fixed order (layer by layer, spans in batch
// order), so a single reader thread fills chunk k+1 into the second buffer while the kernel reads
// chunk k from the first; a buffer is refilled (chunk k+2) only once Prepare of chunk k+1 says
// chunk k's attention has returned. Within a chunk the reader publishes blocks as they land (in
// runs of up to kRunBlocks per pread), so even the first chunk overlaps its read with compute.
// The kernel asks KvBlockSource::Block(i) when it reaches block i: resident blocks come straight
// from RAM, cold ones from the buffer (waiting for their read) — the same bytes at the same
// rebased offsets, so attention is bit-identical to attention over the blocks in RAM. A kernel
// thread that would wait helps instead: it claims the chunk's next unread run and reads it
// itself (runs are claimed through one atomic counter; the ready prefix is published in order),
// so a starved reader thread does not leave the compute threads idle.
//
// Memory: two buffers of (cold blocks of the largest cold span) x (one layer's slice of a
// block), i.e. 2 / num_layers of that sequence's cold KV, outside the KV budget (docs/memory.md).
//
// Invariant: Block(i) of a cold block returns only after its bytes were read and verified, or
// after the chunk failed (then Finish reports the error and the output is discarded).
// Thread-safety: BeginStep / Prepare / Finish / EndStep on the forward pass's thread; Block from
// the kernel's worker threads; one internal reader thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/attention_kv_sources.h"
#include "engine/cold_kv_file.h"

namespace swarmkv {

// One span of the step that has cold blocks.
struct ColdSpan {
  size_t span_index = 0;                 // in the StepBatch
  const ColdKvFile* file = nullptr;      // holds its cold blocks
  std::vector<const uint8_t*> blocks;    // the block table: base pointers, nullptr = cold
};

struct ColdKvStreamStats {
  int64_t chunks = 0;          // PagedAttention calls served from a stream
  int64_t slices_read = 0;     // cold (block, layer) slices read
  int64_t bytes_read = 0;
  int64_t waits = 0;           // Block() calls that had to wait for the reader
  int64_t read_errors = 0;
  int64_t read_nanos = 0;      // time inside the reads that succeeded (summed over reading threads)
};

class ColdKvStream final : public AttentionKvSources {
 public:
  static constexpr int64_t kRunBlocks = 16;  // blocks per pread at most

  // The block layout: num_layers slices of slice_bytes (layer l's slice at l * slice_bytes).
  ColdKvStream(int num_layers, int64_t slice_bytes);
  ~ColdKvStream() override;

  // Starts a step: reads begin at once. `spans` in batch order; spans without cold blocks may be
  // left out. REQUIRES: no step in progress.
  void BeginStep(std::vector<ColdSpan> spans);
  // Ends the step (also after an error mid-way): outstanding reads are abandoned.
  void EndStep();

  Status Prepare(size_t span_index, int layer, PagedKv* kv) override;
  Status Finish(size_t span_index, int layer) override;
  bool Streams(size_t span_index) const override { return active_ && ChunkOf(span_index, 0) >= 0; }

  ColdKvStreamStats stats() const;
  uint64_t buffer_bytes() const;

 private:
  struct Span {
    ColdSpan in;
    std::vector<int32_t> cold_slot;    // per block: -1 resident, else index among cold blocks
    std::vector<int64_t> cold_blocks;  // ascending
  };
  class Source final : public KvBlockSource {
   public:
    const uint8_t* Block(int64_t i) const override;
    const ColdKvStream* stream = nullptr;
    const Span* span = nullptr;
    int64_t layer_base = 0;        // layer's offset inside a resident block
    const uint8_t* data = nullptr; // the buffer
    int64_t slice_bytes = 0;
    int64_t tag = 0;               // progress value prefix of this chunk (chunk id << 32)
    int buffer = 0;
  };

  // The chunk a buffer is being filled with: its runs of consecutive cold blocks.
  struct Fill {
    int64_t tag = -1;                               // (global chunk id << 32); guarded by mu_
    const Span* span = nullptr;
    int layer = 0;
    std::vector<std::pair<int64_t, int64_t>> runs;  // (first cold index, blocks)
    std::atomic<size_t> next_run{0};                // claimed by the reader and helping threads
    std::vector<uint8_t> done;                      // guarded by mu_
    size_t published = 0;                           // runs [0, published) done; guarded by mu_
  };

  void ReaderLoop();
  void FillChunk(int64_t chunk_index, int buffer);  // chunk_index within the step
  // Reads run r of buffer's fill and publishes the ready prefix. Any thread.
  void ReadRun(int buffer, size_t r) const;
  // Block()'s slow path: help read this chunk's runs, else wait, until `need` is published.
  void WaitFor(int buffer, int64_t tag, int64_t need) const;
  int64_t ChunkOf(size_t span_index, int layer) const;  // -1: no cold blocks

  const int num_layers_;
  const int64_t slice_bytes_;

  std::vector<Span> spans_;             // this step's cold spans (forward-pass thread + reader, read-only during a step)
  std::vector<int32_t> span_pos_;       // span_index -> position in spans_ or -1
  std::vector<uint8_t> buffers_[2];
  Source sources_[2];
  mutable std::atomic<int64_t> progress_[2];    // (global chunk id << 32) | blocks ready

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // reader work, and Block() waiters
  bool stop_ = false;
  bool active_ = false;        // a step is in progress
  bool cancel_ = false;
  bool reader_busy_ = false;
  int64_t step_base_ = 0;      // global id of this step's chunk 0
  int64_t num_chunks_ = 0;
  int64_t next_fill_ = 0;      // next chunk the reader fills
  int64_t released_ = 0;       // chunks < released_ are done with
  mutable Status chunk_status_[2];
  mutable Fill fill_[2];
  int64_t chunk_of_buffer_[2] = {-1, -1};
  mutable ColdKvStreamStats stats_;
  mutable std::atomic<int64_t> waits_{0};
  std::thread reader_;
};

}  // namespace swarmkv
