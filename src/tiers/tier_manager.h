// TierManager: moves KV blocks between RAM and the lower tiers (disk, shared dir, Redis).
//
// Write-back: OnEvicted() copies an evicted block into a bounded queue and returns at once; one
// background thread encodes it (entry_format.h) and writes it to every tier marked write_back
// that does not hold that identity already (a restored block evicted again is not rewritten).
// A full queue drops the block and counts it: the request path never waits on a tier (only the
// shutdown flush passes a deadline to wait for room).
//
// Restore: RestoreInto() takes the identities of the blocks that follow the RAM part of a prompt's
// chain and walks them in order through the tiers (in the order given: disk, shared dir, Redis).
// It stops at the first block no tier holds. Before reading, a cost model compares
//     restore ≈ Σ over blocks of KV block bytes / measured restore bandwidth of its tier
//     recompute ≈ tokens / measured prefill tokens per second (fed by the engine)
// and restores only when that is cheaper (unmeasured quantities mean "restore": it is how they
// get measured). The bandwidth is a restore's decoded bytes over its wall time (EWMA), so the
// per-block latency of a tier is already inside it. Every entry read is fully verified (namespace, identity, chain parent, layout,
// checksums); a bad one is erased from its tier, counted, and the next tier is tried — it is never
// returned. Restored blocks go back into RAM through the caller (memory_bridge.h).
//
// With a MAC key (--kv-secret, entry_mac.h) entries are written keyed and stored under the key's
// StorageKey(id) instead of id; a read entry whose MAC fails is erased and counted as
// mac_rejected (not corrupt_dropped).
//
// Invariant: a block RestoreInto() hands its sink decodes to exactly the bytes that were evicted under
// that identity; blocks come back as a gap-free chain starting at the requested first id.
//
// Thread-safety: all methods are thread-safe. Backends are shared with the writer thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "tiers/entry_format.h"
#include "tiers/entry_mac.h"
#include "tiers/tier_backend.h"

namespace swarmkv {

// One evicted block, as the memory core's eviction hook sees it. Spans are valid during the call.
struct TierBlock {
  Hash128 namespace_id;
  Hash128 id;
  Hash128 parent;
  std::span<const int32_t> tokens;
  std::span<const uint8_t> kv_bytes;
  std::span<const uint8_t> state;
  EntryLayout layout;
};

struct TierSpec {
  TierBackend* backend = nullptr;  // not owned; outlives the manager
  bool write_back = true;          // evicted blocks are written here
};

struct TierManagerOptions {
  std::vector<TierSpec> tiers{};         // restore order: disk, shared dir, Redis
  int64_t queue_max_blocks = 1024;
  uint64_t queue_max_bytes = 256ull << 20;
  EntryEncodeOptions encode{};
  bool drain_on_shutdown = true;         // the destructor writes what is queued
  int restore_parallelism = 4;           // blocks read concurrently during a restore
  std::shared_ptr<const EntryMacKey> mac;  // --kv-secret: keyed entries under keyed names; null: none
};

struct TierStats {
  std::string name;
  // Entries read and verified intact from this tier — including read-ahead a restore did not
  // deliver (its chain ended or its sink stopped first). Delivered blocks: TierManagerStats.
  int64_t blocks_read = 0;
  uint64_t bytes_read = 0;        // stored entry bytes of those reads
  double read_seconds = 0;        // time spent reading + verifying + decoding them
  double bandwidth_bytes_per_second = 0;  // decoded KV bytes per second (EWMA), 0 until measured
  int64_t misses = 0, unavailable = 0, corrupt_dropped = 0;
  int64_t mac_rejected = 0;       // entries whose MAC failed (forged, or without one): erased
  int64_t written = 0, write_failures = 0;
  int64_t write_skipped_present = 0;  // write-back found the entry already stored (e.g. restored blocks)
};

// Every metric of the manager in one struct (the one observer seam).
struct TierManagerStats {
  int64_t evictions_seen = 0;
  int64_t writeback_enqueued = 0;  // evicted and idle-write-through blocks queued
  int64_t write_through_enqueued = 0;  // of which idle write-through
  int64_t writeback_dropped = 0;   // queue full
  int64_t writeback_encode_errors = 0;
  int64_t queue_blocks = 0;
  uint64_t queue_bytes = 0;
  int64_t restore_calls = 0;
  int64_t restore_chose_recompute = 0;
  int64_t blocks_restored = 0;  // blocks handed to restore sinks (every tier)
  double prefill_tokens_per_second = 0;
  std::vector<TierStats> tiers;
};

// One block as RestoreInto hands it to its sink: fully verified; the spans point into the
// restore's reusable read buffers and are valid only during the call.
struct RestoredView {
  Hash128 id;
  Hash128 parent;
  std::span<const int32_t> tokens;
  std::span<const uint8_t> kv_bytes;
  std::span<const uint8_t> state;
  int tier = 0;  // index in options.tiers
};
// Takes the restored blocks in chain order; returning false stops the restore there.
using RestoreSink = std::function<bool(const RestoredView&)>;

struct RestoreResult {
  int64_t blocks_delivered = 0;        // blocks the sink accepted
  int64_t blocks_available = 0;        // found by the probe
  bool chose_recompute = false;        // the cost model said recomputing is cheaper
  double estimated_restore_seconds = 0;
  double estimated_recompute_seconds = 0;
};

class TierManager {
 public:
  explicit TierManager(TierManagerOptions options);
  ~TierManager();
  TierManager(const TierManager&) = delete;
  TierManager& operator=(const TierManager&) = delete;

  // Queues a block for write-back; false when dropped (queue full or no write-back tier).
  // Cheap: one copy of the block; safe to call under the memory core's lock.
  // `wait_until_nanos` (MonotonicNanos clock; 0 = never wait): a full queue makes the caller wait
  // for room until then instead of dropping at once — for the shutdown flush only, never on the
  // request path.
  bool OnEvicted(const TierBlock& block, int64_t wait_until_nanos = 0);
  // Idle write-through (tiers/write_through.h): queues a block that was NOT evicted, only if the
  // queue is empty and the writer idle (eviction write-back always goes first); false otherwise.
  bool OnWriteThrough(const TierBlock& block);
  // True when every write-back tier holds `id` (a write would be skipped); false if any does not
  // or cannot tell (down).
  bool StoredInEveryWriteBackTier(const Hash128& id);
  // Blocks until the write-back queue is empty (tests, shutdown).
  void Flush();
  // The same with a deadline (MonotonicNanos); true when the queue was drained in time.
  bool FlushUntil(int64_t deadline_nanos);
  // Drops every queued block (counted as dropped): a bounded shutdown gives up on the rest.
  void DropQueued();

  // Restores the chain `ids` (ids[0]'s parent is `first_parent`) from the tiers; see above.
  // `layout` is the namespace's: an entry with another layout is foreign. Blocks are read,
  // verified and handed to `sink` one at a time in chain order, while `restore_parallelism`
  // reader threads read and verify the next ones (at most 2 x parallelism entries buffered). No
  // block is copied out of its read buffer unless it was compressed, so the sink's copy (into the
  // pool slot) is the only one after the page cache. `sink` runs on the calling thread with no
  // lock of the manager held. (Tests collect the chain with restore_all.h's RestoreAll.)
  RestoreResult RestoreInto(const Hash128& namespace_id, const Hash128& first_parent, std::span<const Hash128> ids,
                            const EntryLayout& layout, const RestoreSink& sink);

  // The engine's measured prefill speed for the namespace's model (tokens/s); 0: unknown.
  void SetPrefillTokensPerSecond(double tokens_per_second);

  TierManagerStats stats() const;
  std::string DebugString() const;
  Status CheckInvariants() const;

 private:
  struct Job {
    EntryMeta meta;
    std::vector<uint8_t> kv_bytes;
    std::vector<uint8_t> state;
    uint64_t bytes() const { return kv_bytes.size() + state.size(); }
  };
  void WriterLoop();
  // The name `id` is stored under in every tier (the MAC key's StorageKey, or id itself).
  Hash128 StorageKey(const Hash128& id) const { return options_.mac ? options_.mac->StorageKey(id) : id; }
  // OnEvicted / OnWriteThrough: copies the block into the queue (see OnEvicted).
  bool Enqueue(const TierBlock& block, int64_t wait_until_nanos, bool write_through);
  // Waits (until the deadline; 0 = not at all) for room for `bytes` in the queue. REQUIRES mu_.
  bool WaitForRoomLocked(std::unique_lock<std::mutex>& lock, uint64_t bytes, int64_t wait_until_nanos);
  void WriteOne(const Job& job);
  // A restore's buffers for one block in flight (reused for later blocks).
  struct ReadSlot {
    ReadBuffer entry;
    std::vector<uint8_t> scratch;  // decoded sections when compressed
    EntryHeader header;
    EntryView view;
  };
  // Reads and verifies `id` from tier `t` into `slot`; false on a miss or a bad entry (erased
  // from that tier and counted).
  bool ReadFrom(int t, const Hash128& namespace_id, const Hash128& parent, const Hash128& id,
                const EntryLayout& layout, ReadSlot* slot);
  // The steps of RestoreInto (restore_pipeline.cc). ProbeTiers: the first tier holding each
  // block of `ids`, up to the first block none holds.
  std::vector<int> ProbeTiers(std::span<const Hash128> ids);
  // The cost model: fills the estimates; true (and counted) when recomputing is cheaper.
  bool ChooseRecompute(const std::vector<int>& tier_of, const EntryLayout& layout, RestoreResult* result);
  // Reads the probed chain with reader threads and hands it to `sink` in chain order.
  class RestorePipeline;
  void StreamChain(const Hash128& namespace_id, const Hash128& first_parent, std::span<const Hash128> ids,
                   const std::vector<int>& tier_of, const EntryLayout& layout, const RestoreSink& sink,
                   RestoreResult* result);
  // Folds one restore's per-tier bytes and wall time into the bandwidth EWMAs and counters.
  void RecordRestore(const std::vector<uint64_t>& bytes_by_tier, double seconds, int64_t blocks_delivered);
  // Exponentially weighted moving average; `old_value` <= 0 means unmeasured.
  static double Ewma(double old_value, double sample);

  // Constant after construction.
  const TierManagerOptions options_;

  // State below is protected by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;        // writer wake-up
  std::condition_variable idle_cv_;   // Flush()
  std::condition_variable room_cv_;   // OnEvicted() waiting for queue room (shutdown flush)
  std::deque<Job> queue_;
  uint64_t queue_bytes_ = 0;
  bool writing_ = false;              // the writer holds a job outside the queue
  bool stop_ = false;
  TierManagerStats stats_;

  std::thread writer_;
};

}  // namespace swarmkv
