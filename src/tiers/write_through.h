// WriteThrough: copies newly sealed KV blocks to the persistent tiers while the write-back queue
// is idle, so a crash (kill -9, OOM kill) loses only what was sealed in the last moments instead
// of every block that was never evicted.
//
// How: the memory core's seal hook records each newly sealed identity in a bounded FIFO (under
// the memory's lock: a push, nothing else). One background thread waits until the tier
// manager's write-back queue is empty and its writer idle, then takes the oldest identity (a
// chain's head before its tail: a restore needs the head first), skips it if every write-back
// tier holds it already (content-addressed: never rewritten), else copies the block out of RAM
// (KvMemory::VisitSealedBlock) into the write-back queue. One block at a time, only when idle:
// eviction write-back always goes first, and the request path never waits on it.
//
// Bounded: at most `max_pending` identities wait (more are dropped and counted: the block is
// still written when evicted or at a clean shutdown); a block evicted before its turn is
// skipped (eviction already queued it).
//
// Invariant: write-through never changes what is in RAM or its eviction order beyond a
// transient hold of a block a sequence is holding anyway.
// Thread-safety: constructed and destroyed by one owner; the hook and stats() are thread-safe.
// REQUIRES: `memory` and `tiers` outlive this object; it must be destroyed before them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "memory/kv_memory.h"
#include "tiers/tier_manager.h"

namespace swarmkv {

struct WriteThroughOptions {
  int64_t max_pending = 8192;   // identities waiting (16 bytes x 2 each; 8192 x 720 KiB = 5.6 GiB of KV)
  int64_t idle_poll_ms = 50;    // how long one wait for an idle queue lasts before re-checking stop
};

struct WriteThroughStats {
  int64_t announced = 0;        // newly sealed blocks seen
  int64_t queued = 0;           // copied into the write-back queue
  int64_t already_stored = 0;   // every write-back tier held it: nothing to do
  int64_t gone = 0;             // evicted (and so written back) before its turn
  int64_t dropped = 0;          // the pending FIFO was full, or the queue refused it
  int64_t pending = 0;          // waiting now
};

class WriteThrough {
 public:
  // Installs the seal hook on `memory` and starts the thread.
  WriteThrough(KvMemory* memory, TierManager* tiers, WriteThroughOptions options = {});
  // Removes the hook and stops the thread (blocks still pending are left to eviction/shutdown).
  ~WriteThrough();
  WriteThrough(const WriteThrough&) = delete;
  WriteThrough& operator=(const WriteThrough&) = delete;

  WriteThroughStats stats() const;
  // Waits until nothing is pending and the write-back queue is drained, or the deadline
  // (MonotonicNanos) passes; true when idle in time (tests).
  bool WaitIdle(int64_t deadline_nanos);

 private:
  void OnSealed(const Hash128& namespace_id, const BlockId& id);
  void Loop();

  // Constant after construction.
  KvMemory* const memory_;
  TierManager* const tiers_;
  const WriteThroughOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Hash128, BlockId>> pending_;  // guarded by mu_
  bool busy_ = false;                                 // the thread holds a taken identity
  bool stop_ = false;
  WriteThroughStats stats_;

  std::thread thread_;
};

}  // namespace swarmkv
