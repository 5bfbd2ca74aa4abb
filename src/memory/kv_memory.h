// KvMemory: the swarm memory core — every model's KV blocks in one budget, shared with no copy.
//
// What it is. KV lives in fixed-size blocks of B tokens (memory/kv_layout.h) allocated from one
// BlockPool (memory/block_pool.h). A namespace (one model's KV identity, DESIGN "the KV
// namespace") is registered with its KvShape; a pure recurrent model's (mamba2) is the state-only
// shape (memory/kv_layout.h): its blocks hold no KV, only their recurrent checkpoint. A sequence is a block table: sealed, shared full
// blocks plus at most one private, writable tail. A full block is sealed when its tokens are
// committed: its identity (memory/block_id.h) is computed, it enters the namespace's prefix
// index, and from then on it is immutable and shared by any number of sequences by refcount.
//
// NOTE (prefix index, why a hash chain): the index is a hash map from block identity to block,
// plus each block's children (the blocks cached right after it). Matching a prompt walks the
// chain — hash the next B tokens with the parent's identity, look it up — in time linear in the
// prompt's blocks. The chain is the addressing on disk and in Redis anyway, so the tier manager
// continues exactly the same walk beyond RAM (ProbePrefix); a radix tree would be a second
// structure to keep in sync with it. The children lists give what the chain alone cannot: a
// cached block that matches only the first k < B remaining tokens (copy-on-write of its rows).
//
// Lifecycle of a block:
//   private (refcount 1, unsealed, writable by its one sequence)
//     -> sealed on commit (immutable, indexed) -> shared (refcount n)
//     -> cached when the last sequence lets go (refcount 0, in the eviction LRU)
//     -> evicted: the eviction hook sees it, then its memory is freed.
//
// Invariants (CheckInvariants() verifies every one):
//   - refcount == number of sequence references (+ transient holds during a copy);
//     refcount == 0 <=> the block is sealed and sits in exactly one eviction list.
//   - A sealed block is immutable and is the index entry for its identity; no two cached blocks
//     of a namespace have the same identity (concurrent sealing dedupes).
//   - A sequence's blocks [0, len/B) are sealed and chain their identities from zero; a partial
//     tail (len % B != 0) is shared read-only or private; writes go only to private blocks.
//   - Pool bytes in use == the sum of the slot bytes of live blocks; <= the budget.
//
// Eviction order (only refcount-0 blocks are ever evicted):
//   1. the LRU of cached blocks, oldest first. A released sequence enters it tail block first,
//      so its private tail goes before the shared head it hangs from (vLLM's order), and an idle
//      model's blocks are the oldest, so they go first;
//   2. then blocks kept by a named pin (PinPrefix), oldest first, recorded with reason
//      kPinnedUnderPressure. Pins expire after their TTL (injectable clock) and their blocks
//      become ordinary cached blocks.
//
// Thread-safety: every method is thread-safe (one mutex, short critical sections; KV bytes are
// copied outside it). Calls on ONE sequence must not overlap (the engine owns a sequence while it
// steps it); different sequences and namespaces may be used from any threads. The eviction hook
// runs under the mutex: it must be quick (copy or enqueue) and must not call back into KvMemory.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/hash.h"
#include "base/status.h"
#include "memory/block_id.h"
#include "memory/kv_layout.h"

namespace swarmkv {

using SequenceId = uint64_t;

struct KvMemoryOptions {
  uint64_t budget_bytes = 0;                 // the one KV budget for every namespace (required)
  uint64_t retain_free_bytes = 64ull << 20;  // freed memory kept committed for reuse before madvise
  int32_t max_size_classes = 16;             // distinct block byte sizes at once (see BlockPool)
  std::function<int64_t()> clock_nanos;      // for pin TTLs; default: MonotonicNanos
  // false (`serve --no-prefix-cache`): AttachPrefix matches nothing and ProbePrefix reports no
  // cached block and nothing to restore, so every prompt token is computed. Sealing, dedupe and
  // eviction are unchanged (identical blocks still share memory; no compute is skipped).
  bool prefix_matching = true;
};

struct NamespaceOptions {
  Hash128 id;        // the KV namespace (weights fingerprint, shape, dtypes, block size)
  std::string name;  // for stats and logs: "smollm2-135m:f16"
  KvShape shape;
  // Hybrid models: bytes of the recurrent-state checkpoint of each recurrent layer, stored with
  // a block (the state after the block's last token). Empty for attention-only models.
  std::vector<uint64_t> recurrent_bytes_per_layer;
  // Hybrid models: block i of a sequence carries the checkpoint only when (i + 1) is a multiple
  // of this interval k; the other blocks' slots hold their KV alone (a smaller size class, no
  // slot at all without KV), and the tiers store no state for them. A prefix match rolls back to
  // the last checkpointed block (up to k - 1 blocks recomputed). The engine picks k with a cost
  // model (engine/checkpoint_interval.h). A policy, not identity: a namespace registered again
  // with another interval keeps its first one, and restored blocks keep what their entry carried.
  int32_t checkpoint_interval_blocks = 1;
};

enum class EvictionReason : int {
  kBudget = 0,           // an unpinned cached block made room under budget pressure
  kPinnedUnderPressure,  // a block kept by a named pin, taken because nothing else was left
  kExplicit,             // EvictCached() (operator or test)
};
inline constexpr int kNumEvictionReasons = 3;
std::string_view EvictionReasonName(EvictionReason reason);  // "budget", "pinned", "explicit"

// A sealed block as the eviction hook (it is being evicted) and VisitSealedBlock (it stays) see
// it; every span is valid only during the call.
struct SealedBlockView {
  Hash128 namespace_id;
  BlockId id;
  BlockId parent;                          // zero for a sequence's first block
  std::span<const int32_t> tokens;         // B ids
  std::span<const uint8_t> kv_bytes;       // layout.block_bytes(), in the KvLayout
  std::span<const uint8_t> recurrent_state;  // hybrid checkpoint, empty otherwise
  const KvLayout* layout = nullptr;        // layout->LayerRange(l): one layer's slice of kv_bytes
  EvictionReason reason = EvictionReason::kBudget;  // eviction hook only: why it is evicted
};
using EvictionHook = std::function<void(const SealedBlockView&)>;
// Called with the identity of each block a Commit has just sealed (a new identity in the index:
// not a dedupe onto a cached block, not a restored block). Runs under the mutex: it must only
// record the identity (the tier manager's idle write-through copies the block later).
using SealHook = std::function<void(const Hash128& namespace_id, const BlockId& id)>;

// Result of attaching the longest cached prefix to a new sequence.
struct PrefixMatch {
  int64_t matched_tokens = 0;  // tokens whose KV the sequence now has; the engine starts there
  int64_t shared_blocks = 0;   // full blocks attached with no copy
  // Tokens (< B) matched inside a cached block beyond the shared ones; their rows are copied into
  // a private block at the next Reserve (copy-on-write). Always 0 for hybrid namespaces (state
  // exists only at block boundaries).
  int64_t partial_tokens = 0;
  // Hybrid: the recurrent state after token matched_tokens - 1 (a block boundary), valid while
  // the sequence holds its blocks; empty when nothing matched or the namespace has no state.
  // The match ends at the last cached block carrying a checkpoint: cached blocks after it (at
  // most interval - 1 with the namespace's policy) are not attached but counted below.
  std::span<const uint8_t> recurrent_state;
  int64_t rolled_back_tokens = 0;  // hybrid: tokens cached past the last checkpoint, to recompute
};

// For the tier manager: how far the RAM chain goes and what comes next.
struct PrefixProbe {
  int64_t cached_blocks = 0;    // leading full blocks of the prompt cached in RAM
  BlockId last_cached_id;       // identity of the last of them (zero when none): next_ids[0]'s parent
  std::vector<BlockId> next_ids;  // identities of the following full blocks, in chain order
};

// Read-only block table for attention: base pointers of the blocks covering positions
// [0, capacity_tokens). Stable until the next Reserve/Commit/Fork/Truncate/Release of the sequence.
struct BlockTable {
  std::vector<const uint8_t*> blocks;
  int64_t num_tokens = 0;       // committed positions
  int64_t capacity_tokens = 0;  // reserved positions (>= num_tokens)
};

// What a Reserve would take, planned without side effects (KvMemory::PlanReserve): the scheduler's
// admission and preemption decisions.
struct ReservePlan {
  uint64_t bytes_needed = 0;     // new blocks (and a copy-on-write copy) Reserve would allocate
  bool fits_alone = true;        // the sequence's blocks fit the budget with everything else gone
  bool fits_unpinned = false;    // fits in free memory + evictable cached blocks without a named pin
  bool fits = false;             // fits when pinned cached blocks are evicted too (what Reserve does)
};

struct NamespaceStats {
  Hash128 id;
  std::string name;
  uint64_t slot_bytes = 0;          // bytes one block takes from the budget
  int64_t sequences = 0;
  int64_t blocks_in_use = 0;        // held by at least one sequence (shared or private)
  int64_t blocks_private = 0;       // of which unsealed, writable tails
  int64_t blocks_cached = 0;        // held by no sequence, kept for prefix hits (evictable)
  int64_t blocks_pinned = 0;        // kept by a named pin (in use or cached)
  uint64_t bytes_in_use = 0, bytes_cached = 0, bytes_pinned = 0;
  int64_t prefix_tokens_hit = 0;       // tokens served from cached blocks at AttachPrefix
  int64_t prefix_tokens_computed = 0;  // tokens committed (computed by the engine)
  int64_t dedupes = 0;                 // private blocks dropped for an identical cached one
  // Hybrid namespaces: the checkpoint interval (blocks), the resident blocks that carry a
  // checkpoint, and the cached tokens prefix matches could not use for want of a checkpoint.
  int32_t checkpoint_interval_blocks = 0;
  int64_t blocks_with_checkpoint = 0;
  int64_t checkpoint_rollback_tokens = 0;
  int64_t cow_copies = 0;              // partially used shared blocks copied before a write
  std::array<int64_t, kNumEvictionReasons> evictions{};
};

struct MemoryStats {
  uint64_t budget_bytes = 0;
  uint64_t used_bytes = 0;       // slots allocated to blocks
  uint64_t committed_bytes = 0;  // physically committed (used + retained free)
  int64_t pins = 0;              // named pins alive
  std::array<int64_t, kNumEvictionReasons> evictions{};
  std::vector<NamespaceStats> namespaces;
};

// A prefix several sequences hold at once: the longest chain of sealed blocks every one of
// `sequences` sequences references (see KvMemory::MostSharedPrefixes).
struct SharedPrefix {
  Hash128 namespace_id;
  std::string namespace_name;
  BlockId last_block;         // identity of its last block
  int64_t tokens = 0;         // its length (whole blocks)
  int32_t sequences = 0;      // sequences holding all of it now
  uint64_t bytes = 0;         // its blocks' bytes, held once
  uint64_t bytes_saved = 0;   // (sequences - 1) * bytes: what a copy per sequence would add
  bool pinned = false;        // its last block is kept by a named pin
};

struct PinInfo {
  std::string name;
  Hash128 namespace_id;
  int64_t pinned_tokens = 0;  // tokens of the pinned prefix resident now (whole blocks)
  int64_t expires_at_nanos = 0;  // 0: never
};

class KvMemory {
 public:
  static Result<std::unique_ptr<KvMemory>> Create(KvMemoryOptions options);
  // Releases leftover sequences (warned about: a caller bug) and frees every block without
  // calling the eviction hook. REQUIRES: no call in flight.
  ~KvMemory();
  KvMemory(const KvMemory&) = delete;
  KvMemory& operator=(const KvMemory&) = delete;

  // ---- Namespaces
  // Registers a namespace; OK again with the identical options. InvalidArgument for a bad shape,
  // a block larger than the budget, or an id registered with a different shape.
  Status RegisterNamespace(const NamespaceOptions& options);
  Result<KvLayout> Layout(const Hash128& namespace_id) const;

  // ---- Sequences (scheduler and engine)
  Result<SequenceId> CreateSequence(const Hash128& namespace_id);
  // Attaches the longest cached prefix of `tokens` to `seq`, which must be empty. Linear in the
  // prompt's blocks. Shared blocks are attached by refcount (no copy); a match ending inside a
  // cached block attaches it read-only and the next Reserve copies its matched rows. The caller
  // passes the tokens it wants KV for (e.g. the prompt minus its last token, whose logits it needs).
  Result<PrefixMatch> AttachPrefix(SequenceId seq, std::span<const int32_t> tokens);
  // Makes room for positions [Length(seq), Length(seq) + num_tokens): allocates private tail
  // blocks, copies a shared partial tail (copy-on-write), and evicts cached blocks if the budget
  // needs it. All or nothing. ResourceExhausted when the sequence's blocks cannot fit in the
  // budget even alone (the message names the bytes needed and the budget), or when the rest of
  // the budget is held by other running sequences (nothing evictable; preempt one and retry).
  Status Reserve(SequenceId seq, int64_t num_tokens);
  // What Reserve(seq, num_tokens) would allocate and whether it would succeed now. No side effects.
  Result<ReservePlan> PlanReserve(SequenceId seq, int64_t num_tokens) const;
  // Bytes a sequence of `num_tokens` tokens needs from the budget at most: its blocks plus one for
  // a copy-on-write copy (held only during a Reserve). Compare with budget_bytes() for "fits alone".
  Result<uint64_t> BytesForTokens(const Hash128& namespace_id, int64_t num_tokens) const;
  uint64_t budget_bytes() const;
  // Base pointer of the private block holding `position`; write K/V rows at
  // layout.KRowOffset(layer, head, position % B). REQUIRES Length(seq) <= position < reserved.
  Result<uint8_t*> MutableBlock(SequenceId seq, int64_t position);
  // Hybrid: the checkpoint area of the block holding `position` (same rules as MutableBlock). The
  // engine writes the state after the block's last token before committing that token.
  // Layer l's state starts at the sum of recurrent_bytes_per_layer[0..l). Empty for a block the
  // checkpoint interval gives no checkpoint (nothing to write).
  Result<std::span<uint8_t>> MutableRecurrentState(SequenceId seq, int64_t position);
  Result<BlockTable> GetBlockTable(SequenceId seq) const;
  // Records the token ids of positions [Length, Length + tokens.size()) whose KV was written.
  // Every block this fills is sealed; if the namespace already caches a block with the same
  // identity, the sequence switches to it and the private copy is freed (dedupe).
  Status Commit(SequenceId seq, std::span<const int32_t> tokens);
  // Context beyond RAM (engine/cold_kv.h): calls store(block's KV bytes) — the caller's own
  // cold store, which serves them to attention later — then frees the block's slot while the
  // sequence keeps it (GetBlockTable gives nullptr for it). The block leaves the prefix index
  // (nothing else can attach it) and is freed, not cached, when the sequence drops it; a sequence
  // with cold blocks cannot Fork nor Truncate into one. `store` runs under the mutex (it must not
  // call back). Returns false (nothing called or changed) for a block that is shared, pinned or
  // already cold: shared blocks stay resident. store's error is returned, the block unchanged.
  // OutOfRange for a block that is not full.
  Result<bool> MakeBlockCold(SequenceId seq, int64_t block_index,
                             const std::function<Status(std::span<const uint8_t>)>& store);
  // A new sequence sharing all of `seq`'s blocks (no copy). Both lose any reservation; a shared
  // partial tail is copied by whichever of them reserves first.
  Result<SequenceId> Fork(SequenceId seq);
  // Rolls back to the first `num_tokens` tokens (<= Length). Blocks past them are released.
  Status Truncate(SequenceId seq, int64_t num_tokens);
  // Hybrid namespaces: a recurrent state exists only after a checkpointed block, so this rolls
  // back to the end of the last block carrying a checkpoint within the first `num_tokens`
  // tokens (the path a prefix match takes) and returns that checkpoint; length 0 and an empty
  // state when there is none. For a namespace without state it is Truncate(num_tokens).
  Result<PrefixMatch> TruncateToCheckpoint(SequenceId seq, int64_t num_tokens);
  // Releases the sequence's blocks, tail first: sealed ones stay cached, private ones are freed.
  Status Release(SequenceId seq);
  Result<int64_t> Length(SequenceId seq) const;
  Result<std::vector<int32_t>> Tokens(SequenceId seq) const;

  // ---- Tier manager
  // Called with each block just before its memory is freed (see the class comment).
  void SetEvictionHook(EvictionHook hook);
  // See SealHook. nullptr removes it.
  void SetSealHook(SealHook hook);
  // Calls `visit` with the sealed block `id` of the namespace (every field as the eviction hook
  // sees it; reason kExplicit) and returns true; false when no such block is resident. A block a
  // sequence holds is held once more and copied outside the mutex (it is immutable); a cached
  // block (refcount 0) is visited under the mutex so its place in the eviction order is kept.
  // `visit` must not call back into KvMemory.
  Result<bool> VisitSealedBlock(const Hash128& namespace_id, const BlockId& id,
                                const std::function<void(const SealedBlockView&)>& visit);
  // The RAM chain of `tokens` in the namespace and the identities of up to `max_next` following
  // full blocks. No side effects. With prefix_matching off: an empty probe (nothing to restore).
  Result<PrefixProbe> ProbePrefix(const Hash128& namespace_id, std::span<const int32_t> tokens, int64_t max_next) const;
  // Inserts a restored sealed block (cached, refcount 0, most recently used). Its identity is
  // computed from (namespace, parent, tokens). Returns false if that block is already cached.
  // Hybrid namespaces: `recurrent_state` is the whole checkpoint or empty (a block stored
  // without one, as the checkpoint interval leaves most).
  // InvalidArgument when sizes do not match the namespace; ResourceExhausted when no room can be
  // made (everything held by sequences). The inputs must not live in storage the eviction hook
  // changes: making room may run the hook inside this call.
  Result<bool> InsertSealedBlock(const Hash128& namespace_id, const BlockId& parent, std::span<const int32_t> tokens,
                                 std::span<const uint8_t> kv_bytes, std::span<const uint8_t> recurrent_state = {});

  // ---- Server
  // Keeps the full blocks of `tokens` resident until `ttl_nanos` from now (<= 0: until
  // UnpinPrefix): they are evicted last, only when nothing else is evictable (reason kPinned...).
  // Blocks of the prefix that are not cached yet are pinned when they are sealed or restored, so
  // a prefix can be pinned before it is first computed. A pin with the same name is replaced.
  // Returns the tokens of the prefix resident now (whole blocks).
  Result<int64_t> PinPrefix(const std::string& name, const Hash128& namespace_id, std::span<const int32_t> tokens,
                            int64_t ttl_nanos);
  Status UnpinPrefix(const std::string& name);  // NotFound for an unknown name
  std::vector<PinInfo> ListPins() const;
  // Evicts up to `bytes` of cached (refcount 0) blocks, unpinned first, oldest first; returns
  // bytes freed. kMostValuableFirst (the shutdown flush, whose deadline may cut it short): pinned
  // blocks first, then the rest most recently used first, so what is most likely reused reaches
  // the hook first.
  enum class EvictOrder { kOldestFirst, kMostValuableFirst };
  uint64_t EvictCached(uint64_t bytes, EvictOrder order = EvictOrder::kOldestFirst);

  MemoryStats Stats() const;
  // Up to `max` prefixes held by two or more sequences, most bytes saved first. A prefix is
  // reported at its longest length for its number of sharers (a chain's end where the next
  // block has fewer holders). O(sealed blocks) under the lock: for /api/kv, not per token.
  std::vector<SharedPrefix> MostSharedPrefixes(size_t max) const;
  Status CheckInvariants() const;
  std::string DebugString() const;

  class Impl;

 private:
  explicit KvMemory(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace swarmkv
