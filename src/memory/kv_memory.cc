#include "memory/kv_memory.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>
#include <unordered_set>

#include "base/logging.h"
#include "base/sysinfo.h"
#include "memory/block_list.h"
#include "memory/block_pool.h"

namespace swarmkv {

using internal::Block;
using internal::BlockList;
using internal::ListKind;

namespace internal {

struct NamespaceState {
  // Constant after registration.
  NamespaceOptions options;
  KvLayout layout;
  uint64_t kv_bytes = 0;     // layout.block_bytes()
  uint64_t state_bytes = 0;  // recurrent checkpoint bytes per block
  uint64_t slot_bytes = 0;   // BlockPool::SlotBytes(kv_bytes + state_bytes)
  int32_t block_tokens = 0;

  // Guarded by KvMemory's mutex.
  std::unordered_map<BlockId, Block*, Hash128Hasher> index;                  // sealed blocks
  std::unordered_map<BlockId, std::vector<Block*>, Hash128Hasher> children;  // parent -> sealed blocks
  // Identities named by pins (count of pins naming each), resident or not: a block sealed or
  // restored later under a pinned prefix is pinned from birth. Block::name_pins mirrors this.
  std::unordered_map<BlockId, int32_t, Hash128Hasher> pin_wanted;
  NamespaceStats counters;  // only the counter fields are kept here; the rest is computed
};

}  // namespace internal

using internal::NamespaceState;

namespace {

struct Sequence {
  SequenceId id = 0;
  NamespaceState* ns = nullptr;
  std::vector<int32_t> tokens;  // committed token ids: Length() == tokens.size()
  std::vector<Block*> blocks;   // covers [0, max(len, reserved)), one ref each
  int64_t reserved = 0;         // positions [0, reserved) have blocks; >= len
  int64_t cold = 0;             // blocks made cold (MakeBlockCold): held, but no slot in the budget
  Block* cow_source = nullptr;  // a ref held while its rows are copied outside the lock
};

struct Pin {
  NamespaceState* ns = nullptr;
  std::vector<BlockId> ids;
  int64_t expires_at_nanos = 0;  // 0: never
};

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::string Bytes(uint64_t v) { return std::to_string(v) + " bytes"; }

}  // namespace

std::string_view EvictionReasonName(EvictionReason reason) {
  switch (reason) {
    case EvictionReason::kBudget: return "budget";
    case EvictionReason::kPinnedUnderPressure: return "pinned";
    case EvictionReason::kExplicit: return "explicit";
  }
  return "unknown";
}

class KvMemory::Impl {
 public:
  // Constant after construction.
  KvMemoryOptions options;
  std::unique_ptr<BlockPool> pool;

  // State below is protected by mu.
  mutable std::mutex mu;
  std::unordered_map<Hash128, std::unique_ptr<NamespaceState>, Hash128Hasher> namespaces;
  std::unordered_map<SequenceId, std::unique_ptr<Sequence>> sequences;
  SequenceId next_sequence = 1;
  std::unordered_set<Block*> blocks;     // every live block (owned; deleted when freed)
  // Blocks held outside the lock, one entry per hold: restored blocks being filled (refs 1) and
  // sealed blocks being copied out by VisitSealedBlock.
  std::unordered_multiset<Block*> transient;
  BlockList lru;                         // refs == 0, no named pin: evicted first, front first
  BlockList pinned;                      // refs == 0, named pin: evicted last, front first
  uint64_t evictable_bytes = 0;          // slot bytes of blocks in lru + pinned
  std::map<std::string, Pin> pins;
  EvictionHook hook;
  SealHook seal_hook;
  std::array<int64_t, kNumEvictionReasons> evictions{};

  int64_t Now() const { return options.clock_nanos ? options.clock_nanos() : MonotonicNanos(); }

  Result<NamespaceState*> FindNamespaceLocked(const Hash128& id) const {
    auto it = namespaces.find(id);
    if (it == namespaces.end()) return NotFoundError("KV namespace " + id.ToHex() + " is not registered");
    return it->second.get();
  }
  Result<Sequence*> FindSequenceLocked(SequenceId id) const {
    auto it = sequences.find(id);
    if (it == sequences.end()) return NotFoundError("KV sequence " + std::to_string(id) + " does not exist");
    if (it->second->cow_source != nullptr) {
      return FailedPreconditionError("KV sequence " + std::to_string(id) + " is in use by another call (calls on one sequence must not overlap)");
    }
    return it->second.get();
  }
  // The namespace's block size, read without holding the lock for long (shapes never change).
  Result<NamespaceState*> NamespaceOf(const Hash128& id) const {
    std::lock_guard<std::mutex> lock(mu);
    return FindNamespaceLocked(id);
  }

  // ---- Block lifecycle (all *Locked)
  Block* NewBlockLocked(NamespaceState* ns) {
    uint8_t* data = pool->Allocate(ns->slot_bytes);
    if (data == nullptr) return nullptr;
    Block* b = new Block;
    b->data = data;
    b->ns = ns;
    b->refs = 1;
    blocks.insert(b);
    return b;
  }
  void FreeBlockLocked(Block* b) {
    SKV_CHECK(b->refs == 0 && b->list == ListKind::kNone);
    if (b->data != nullptr) pool->Free(b->data, b->ns->slot_bytes);
    blocks.erase(b);
    delete b;
  }
  void AddRefLocked(Block* b) {
    if (b->refs == 0) {
      SKV_CHECK(b->list != ListKind::kNone);
      (b->list == ListKind::kLru ? lru : pinned).Remove(b);
      evictable_bytes -= b->ns->slot_bytes;
    }
    ++b->refs;
  }
  void MakeCachedLocked(Block* b) {
    (b->name_pins > 0 ? pinned : lru).PushBack(b, b->name_pins > 0 ? ListKind::kPinned : ListKind::kLru);
    evictable_bytes += b->ns->slot_bytes;
  }
  void DropRefLocked(Block* b) {
    SKV_CHECK(b->refs > 0);
    if (--b->refs > 0) return;
    if (b->sealed && !b->cold) {
      MakeCachedLocked(b);
    } else {
      FreeBlockLocked(b);
    }
  }
  void UnindexLocked(Block* b) {
    NamespaceState* ns = b->ns;
    ns->index.erase(b->id);
    auto it = ns->children.find(b->parent);
    if (it != ns->children.end()) {
      std::erase(it->second, b);
      if (it->second.empty()) ns->children.erase(it);
    }
  }
  // What the eviction hook and VisitSealedBlock see of a sealed block (views into its slot).
  static SealedBlockView ViewLocked(const Block* b, EvictionReason reason) {
    const NamespaceState* ns = b->ns;
    SealedBlockView e;
    e.namespace_id = ns->options.id;
    e.id = b->id;
    e.parent = b->parent;
    e.tokens = b->tokens;
    e.kv_bytes = std::span<const uint8_t>(b->data, ns->kv_bytes);
    e.recurrent_state = std::span<const uint8_t>(b->data + ns->kv_bytes, ns->state_bytes);
    e.layout = &ns->layout;
    e.reason = reason;
    return e;
  }
  void EvictLocked(Block* b, EvictionReason reason) {
    SKV_CHECK(b->refs == 0 && b->sealed && b->list != ListKind::kNone);
    NamespaceState* ns = b->ns;
    if (hook) hook(ViewLocked(b, reason));
    (b->list == ListKind::kLru ? lru : pinned).Remove(b);
    evictable_bytes -= ns->slot_bytes;
    b->name_pins = 0;  // the pins still name the identity: a restored copy is pinned again
    UnindexLocked(b);
    ++evictions[static_cast<int>(reason)];
    ++ns->counters.evictions[static_cast<int>(reason)];
    FreeBlockLocked(b);
  }
  // Evicts until `bytes` more fit in the budget. False (and nothing evicted) when impossible.
  bool MakeRoomLocked(uint64_t bytes) {
    const uint64_t budget = pool->budget_bytes();
    if (bytes > budget || pool->used_bytes() - std::min(pool->used_bytes(), evictable_bytes) + bytes > budget) {
      return false;
    }
    while (pool->used_bytes() + bytes > budget) {
      if (!lru.empty()) {
        EvictLocked(lru.front(), EvictionReason::kBudget);
      } else {
        SKV_CHECK(!pinned.empty());
        EvictLocked(pinned.front(), EvictionReason::kPinnedUnderPressure);
      }
    }
    return true;
  }

  // ---- Pins
  void SetPinLocked(Block* b, int delta) {
    const bool was = b->name_pins > 0;
    b->name_pins += delta;
    const bool is = b->name_pins > 0;
    if (b->refs == 0 && was != is) {
      (was ? pinned : lru).Remove(b);
      evictable_bytes -= b->ns->slot_bytes;
      MakeCachedLocked(b);
    }
  }
  void UnpinLocked(std::map<std::string, Pin>::iterator it) {
    NamespaceState* ns = it->second.ns;
    // Tail first, so that the prefix's tail is again evicted before its head.
    for (auto id_it = it->second.ids.rbegin(); id_it != it->second.ids.rend(); ++id_it) {
      auto w = ns->pin_wanted.find(*id_it);
      SKV_CHECK(w != ns->pin_wanted.end());
      if (--w->second == 0) ns->pin_wanted.erase(w);
      auto bit = ns->index.find(*id_it);
      if (bit != ns->index.end()) SetPinLocked(bit->second, -1);
    }
    pins.erase(it);
  }
  // A block just entered the index: it inherits the pins naming its identity.
  void InheritPinsLocked(Block* b) {
    auto w = b->ns->pin_wanted.find(b->id);
    b->name_pins = w == b->ns->pin_wanted.end() ? 0 : w->second;
  }
  void ExpirePinsLocked() {
    if (pins.empty()) return;
    const int64_t now = Now();
    for (auto it = pins.begin(); it != pins.end();) {
      auto next = std::next(it);
      if (it->second.expires_at_nanos != 0 && it->second.expires_at_nanos <= now) UnpinLocked(it);
      it = next;
    }
  }

  // ---- Matching
  // The cached chain for precomputed `ids` (the prompt's full blocks): stops at the first miss.
  std::vector<Block*> ChainLocked(NamespaceState* ns, const std::vector<BlockId>& ids,
                                  std::span<const int32_t> tokens) const {
    std::vector<Block*> chain;
    const size_t b = static_cast<size_t>(ns->block_tokens);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = ns->index.find(ids[i]);
      if (it == ns->index.end()) break;
      // 128-bit identities do not collide in practice; the check makes exactness unconditional.
      if (!std::equal(it->second->tokens.begin(), it->second->tokens.end(), tokens.begin() + i * b)) break;
      chain.push_back(it->second);
    }
    return chain;
  }
  // The cached child of `parent` sharing the longest (>0, <B) token prefix with `rest`.
  Block* BestPartialLocked(NamespaceState* ns, const BlockId& parent, std::span<const int32_t> rest,
                           int64_t* matched) const {
    *matched = 0;
    auto it = ns->children.find(parent);
    if (it == ns->children.end() || rest.empty()) return nullptr;
    Block* best = nullptr;
    const size_t limit = std::min<size_t>(rest.size(), static_cast<size_t>(ns->block_tokens) - 1);
    for (Block* c : it->second) {
      size_t n = 0;
      while (n < limit && c->tokens[n] == rest[n]) ++n;
      if (static_cast<int64_t>(n) > *matched) {
        *matched = static_cast<int64_t>(n);
        best = c;
      }
    }
    return best;
  }

  void SealLocked(Sequence* s, size_t i) {
    NamespaceState* ns = s->ns;
    Block* b = s->blocks[i];
    SKV_CHECK(!b->sealed && b->refs == 1) << "sealing a block that is not private";
    const BlockId parent = i == 0 ? BlockId{} : s->blocks[i - 1]->id;
    const size_t bt = static_cast<size_t>(ns->block_tokens);
    std::span<const int32_t> toks(s->tokens.data() + i * bt, bt);
    const BlockId id = ComputeBlockId(ns->options.id, parent, toks);
    auto it = ns->index.find(id);
    if (it != ns->index.end()) {
      // Another sequence sealed the same block first: share it, drop the private copy.
      SKV_CHECK(std::equal(toks.begin(), toks.end(), it->second->tokens.begin())) << "block identity collision " << id.ToHex();
      AddRefLocked(it->second);
      s->blocks[i] = it->second;
      b->refs = 0;
      FreeBlockLocked(b);
      ++ns->counters.dedupes;
      return;
    }
    b->sealed = true;
    b->id = id;
    b->parent = parent;
    b->tokens.assign(toks.begin(), toks.end());
    ns->index.emplace(id, b);
    ns->children[parent].push_back(b);
    InheritPinsLocked(b);
    if (seal_hook) seal_hook(ns->options.id, id);
  }

  // Drops blocks [keep, end) of s, last first.
  void DropBlocksFromLocked(Sequence* s, size_t keep) {
    while (s->blocks.size() > keep) {
      Block* b = s->blocks.back();
      s->blocks.pop_back();
      if (b->cold) --s->cold;
      DropRefLocked(b);
    }
  }

  Status CheckLocked() const;
};

KvMemory::KvMemory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<KvMemory>> KvMemory::Create(KvMemoryOptions options) {
  BlockPoolOptions po;
  po.budget_bytes = options.budget_bytes;
  po.retain_free_bytes = options.retain_free_bytes;
  po.max_size_classes = options.max_size_classes;
  SKV_ASSIGN_OR_RETURN(auto pool, BlockPool::Create(po));
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->pool = std::move(pool);
  return std::unique_ptr<KvMemory>(new KvMemory(std::move(impl)));
}

KvMemory::~KvMemory() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  if (!m.sequences.empty()) {
    // A caller bug, but a test that failed half-way must still report its own failure, so this
    // warns and cleans up instead of aborting.
    SKV_LOG(WARN) << "KvMemory destroyed with " << m.sequences.size() << " sequences not released (a caller bug)";
  }
  for (auto& [id, s] : m.sequences) {
    if (s->cow_source != nullptr) m.DropRefLocked(s->cow_source);
    m.DropBlocksFromLocked(s.get(), 0);
  }
  m.sequences.clear();
  m.hook = nullptr;  // the tier manager may be gone already: shutdown does not write back
  while (!m.lru.empty()) m.EvictLocked(m.lru.front(), EvictionReason::kExplicit);
  while (!m.pinned.empty()) m.EvictLocked(m.pinned.front(), EvictionReason::kExplicit);
  SKV_CHECK(m.blocks.empty()) << m.blocks.size() << " KV blocks still referenced at shutdown";
}

Status KvMemory::RegisterNamespace(const NamespaceOptions& options) {
  SKV_ASSIGN_OR_RETURN(KvLayout layout, KvLayout::Create(options.shape));
  uint64_t state_bytes = 0;
  for (uint64_t v : options.recurrent_bytes_per_layer) {
    if (v == 0 || v > (1ull << 32)) {
      return InvalidArgumentError("KV namespace '" + options.name + "': recurrent state bytes per layer must be in 1..4GiB");
    }
    state_bytes += v;
  }
  const uint64_t slot = BlockPool::SlotBytes(layout.block_bytes() + state_bytes);
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  auto it = m.namespaces.find(options.id);
  if (it != m.namespaces.end()) {
    const NamespaceOptions& o = it->second->options;
    if (o.shape == options.shape && o.recurrent_bytes_per_layer == options.recurrent_bytes_per_layer) return Status::OK();
    return InvalidArgumentError("KV namespace " + options.id.ToHex() + " is already registered with shape " +
                                o.shape.DebugString() + ", not " + options.shape.DebugString());
  }
  SKV_RETURN_IF_ERROR(m.pool->AddSizeClass(slot).WithContext("KV namespace '" + options.name + "'"));
  auto ns = std::make_unique<NamespaceState>();
  ns->options = options;
  ns->layout = layout;
  ns->kv_bytes = layout.block_bytes();
  ns->state_bytes = state_bytes;
  ns->slot_bytes = slot;
  ns->block_tokens = options.shape.block_tokens;
  ns->counters.id = options.id;
  ns->counters.name = options.name;
  m.namespaces.emplace(options.id, std::move(ns));
  return Status::OK();
}

Result<KvLayout> KvMemory::Layout(const Hash128& namespace_id) const {
  SKV_ASSIGN_OR_RETURN(NamespaceState * ns, impl_->NamespaceOf(namespace_id));
  return ns->layout;
}

Result<SequenceId> KvMemory::CreateSequence(const Hash128& namespace_id) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(NamespaceState * ns, m.FindNamespaceLocked(namespace_id));
  auto s = std::make_unique<Sequence>();
  s->id = m.next_sequence++;
  s->ns = ns;
  const SequenceId id = s->id;
  m.sequences.emplace(id, std::move(s));
  ++ns->counters.sequences;
  return id;
}

Result<PrefixMatch> KvMemory::AttachPrefix(SequenceId seq, std::span<const int32_t> tokens) {
  Impl& m = *impl_;
  NamespaceState* ns;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
    ns = s->ns;
  }
  // Hash outside the lock: the prompt's chain does not depend on the cache.
  const std::vector<BlockId> ids = ComputeBlockChain(ns->options.id, tokens, ns->block_tokens);
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  if (!s->tokens.empty() || !s->blocks.empty()) {
    return FailedPreconditionError("AttachPrefix needs an empty sequence; sequence " + std::to_string(seq) + " has " +
                                   std::to_string(s->tokens.size()) + " tokens");
  }
  m.ExpirePinsLocked();
  PrefixMatch match;
  if (!m.options.prefix_matching) return match;  // --no-prefix-cache: every token is computed
  std::vector<Block*> chain = m.ChainLocked(ns, ids, tokens);
  const int64_t bt = ns->block_tokens;
  match.shared_blocks = static_cast<int64_t>(chain.size());
  int64_t matched = match.shared_blocks * bt;
  for (Block* b : chain) m.AddRefLocked(b);
  s->blocks = chain;
  if (ns->state_bytes == 0) {
    int64_t partial = 0;
    Block* p = m.BestPartialLocked(ns, chain.empty() ? BlockId{} : chain.back()->id, tokens.subspan(matched), &partial);
    if (p != nullptr) {
      m.AddRefLocked(p);
      s->blocks.push_back(p);
      match.partial_tokens = partial;
      matched += partial;
    }
  } else if (!chain.empty()) {
    match.recurrent_state = std::span<const uint8_t>(chain.back()->data + ns->kv_bytes, ns->state_bytes);
  }
  s->tokens.assign(tokens.begin(), tokens.begin() + matched);
  s->reserved = matched;
  match.matched_tokens = matched;
  ns->counters.prefix_tokens_hit += matched;
  return match;
}

Status KvMemory::Reserve(SequenceId seq, int64_t num_tokens) {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  if (num_tokens < 0) return InvalidArgumentError("Reserve of a negative token count " + std::to_string(num_tokens));
  NamespaceState* ns = s->ns;
  const int64_t len = static_cast<int64_t>(s->tokens.size());
  const int64_t want = len + num_tokens;
  if (want <= s->reserved) return Status::OK();
  const int64_t bt = ns->block_tokens;
  const int64_t have = static_cast<int64_t>(s->blocks.size());
  const int64_t total = CeilDiv(want, bt);
  const int64_t add = total - have;
  Block* tail = len % bt != 0 ? s->blocks[static_cast<size_t>(len / bt)] : nullptr;
  const bool cow = tail != nullptr && (tail->sealed || tail->refs > 1);
  const int64_t count = add + (cow ? 1 : 0);
  const uint64_t needed = static_cast<uint64_t>(count) * ns->slot_bytes;
  const uint64_t alone = static_cast<uint64_t>(total - s->cold + (cow ? 1 : 0)) * ns->slot_bytes;
  if (alone > m.pool->budget_bytes()) {
    return ResourceExhaustedError("KV sequence " + std::to_string(seq) + " of '" + ns->options.name + "' needs " +
                                  Bytes(alone) + " (" + std::to_string(total) + " blocks of " + Bytes(ns->slot_bytes) +
                                  " for " + std::to_string(want) + " tokens); the KV memory budget is " +
                                  Bytes(m.pool->budget_bytes()));
  }
  m.ExpirePinsLocked();
  if (!m.MakeRoomLocked(needed)) {
    return ResourceExhaustedError("KV memory budget of " + Bytes(m.pool->budget_bytes()) + " is held by running sequences: " +
                                  "sequence " + std::to_string(seq) + " needs " + Bytes(needed) + " more, " +
                                  Bytes(m.pool->budget_bytes() - m.pool->used_bytes()) + " are free and " +
                                  Bytes(m.evictable_bytes) + " evictable; finish or preempt a sequence and retry");
  }
  for (int64_t i = 0; i < add; ++i) {
    Block* b = m.NewBlockLocked(ns);
    SKV_CHECK(b != nullptr) << "pool refused a block after making room";
    s->blocks.push_back(b);
  }
  s->reserved = want;
  if (!cow) return Status::OK();
  Block* fresh = m.NewBlockLocked(ns);
  SKV_CHECK(fresh != nullptr) << "pool refused a block after making room";
  s->blocks[static_cast<size_t>(len / bt)] = fresh;
  s->cow_source = tail;  // the sequence's ref moves here until the copy is done
  ++ns->counters.cow_copies;
  lock.unlock();
  // Copy outside the lock: `tail` is held (cannot be evicted) and immutable while shared;
  // `fresh` is private to this sequence.
  ns->layout.CopyTokenRows(tail->data, fresh->data, static_cast<int32_t>(len % bt));
  lock.lock();
  s->cow_source = nullptr;
  m.DropRefLocked(tail);
  return Status::OK();
}

Result<ReservePlan> KvMemory::PlanReserve(SequenceId seq, int64_t num_tokens) const {
  const Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  if (num_tokens < 0) return InvalidArgumentError("PlanReserve of a negative token count " + std::to_string(num_tokens));
  ReservePlan plan;
  const NamespaceState* ns = s->ns;
  const int64_t len = static_cast<int64_t>(s->tokens.size());
  const int64_t want = len + num_tokens;
  if (want > s->reserved) {
    // The same arithmetic as Reserve.
    const int64_t bt = ns->block_tokens;
    const int64_t total = CeilDiv(want, bt);
    const int64_t add = total - static_cast<int64_t>(s->blocks.size());
    const Block* tail = len % bt != 0 ? s->blocks[static_cast<size_t>(len / bt)] : nullptr;
    const bool cow = tail != nullptr && (tail->sealed || tail->refs > 1);
    plan.bytes_needed = static_cast<uint64_t>(add + (cow ? 1 : 0)) * ns->slot_bytes;
    plan.fits_alone = static_cast<uint64_t>(total - s->cold + (cow ? 1 : 0)) * ns->slot_bytes <= m.pool->budget_bytes();
  }
  // NOTE: expired pins are not expired here (const); they count as pinned until the next Reserve.
  uint64_t pinned_bytes = 0;
  for (const Block* b = m.pinned.front(); b != nullptr; b = b->next) pinned_bytes += b->ns->slot_bytes;
  const uint64_t budget = m.pool->budget_bytes();
  const uint64_t used = m.pool->used_bytes();
  const uint64_t held = used - std::min(used, m.evictable_bytes);  // what no eviction can free
  plan.fits = plan.fits_alone && held + plan.bytes_needed <= budget;
  plan.fits_unpinned = plan.fits && held + pinned_bytes + plan.bytes_needed <= budget;
  return plan;
}

Result<uint64_t> KvMemory::BytesForTokens(const Hash128& namespace_id, int64_t num_tokens) const {
  if (num_tokens < 0) return InvalidArgumentError("BytesForTokens of a negative token count");
  SKV_ASSIGN_OR_RETURN(NamespaceState * ns, impl_->NamespaceOf(namespace_id));
  return static_cast<uint64_t>(CeilDiv(num_tokens, ns->block_tokens) + 1) * ns->slot_bytes;
}

uint64_t KvMemory::budget_bytes() const { return impl_->pool->budget_bytes(); }

Result<uint8_t*> KvMemory::MutableBlock(SequenceId seq, int64_t position) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  const int64_t len = static_cast<int64_t>(s->tokens.size());
  if (position < len || position >= s->reserved) {
    return OutOfRangeError("KV sequence " + std::to_string(seq) + ": position " + std::to_string(position) +
                           " is not writable (committed " + std::to_string(len) + ", reserved " +
                           std::to_string(s->reserved) + ")");
  }
  Block* b = s->blocks[static_cast<size_t>(position / s->ns->block_tokens)];
  SKV_CHECK(!b->sealed && b->refs == 1) << "reserved block is not private";
  return b->data;
}

Result<std::span<uint8_t>> KvMemory::MutableRecurrentState(SequenceId seq, int64_t position) {
  SKV_ASSIGN_OR_RETURN(uint8_t * data, MutableBlock(seq, position));
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  if (s->ns->state_bytes == 0) {
    return FailedPreconditionError("KV namespace '" + s->ns->options.name + "' has no recurrent state");
  }
  return std::span<uint8_t>(data + s->ns->kv_bytes, s->ns->state_bytes);
}

Result<BlockTable> KvMemory::GetBlockTable(SequenceId seq) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  BlockTable t;
  t.blocks.reserve(s->blocks.size());
  for (Block* b : s->blocks) t.blocks.push_back(b->data);
  t.num_tokens = static_cast<int64_t>(s->tokens.size());
  t.capacity_tokens = s->reserved;
  return t;
}

Status KvMemory::Commit(SequenceId seq, std::span<const int32_t> tokens) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  const int64_t len = static_cast<int64_t>(s->tokens.size());
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (len + n > s->reserved) {
    return FailedPreconditionError("KV sequence " + std::to_string(seq) + ": commit of " + std::to_string(n) +
                                   " tokens at position " + std::to_string(len) + " exceeds the reservation (" +
                                   std::to_string(s->reserved) + " positions); call Reserve first");
  }
  s->tokens.insert(s->tokens.end(), tokens.begin(), tokens.end());
  s->ns->counters.prefix_tokens_computed += n;
  const int64_t bt = s->ns->block_tokens;
  for (int64_t i = len / bt; (i + 1) * bt <= len + n; ++i) m.SealLocked(s, static_cast<size_t>(i));
  return Status::OK();
}

Result<SequenceId> KvMemory::Fork(SequenceId seq) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  if (s->cold > 0) {
    return FailedPreconditionError("KV sequence " + std::to_string(seq) + " has " + std::to_string(s->cold) +
                                   " cold blocks (bytes only on its cold store): it cannot be forked");
  }
  const int64_t len = static_cast<int64_t>(s->tokens.size());
  // A reservation would let the source write into a tail that is about to be shared.
  m.DropBlocksFromLocked(s, static_cast<size_t>(CeilDiv(len, s->ns->block_tokens)));
  s->reserved = len;
  auto f = std::make_unique<Sequence>();
  f->id = m.next_sequence++;
  f->ns = s->ns;
  f->tokens = s->tokens;
  f->blocks = s->blocks;
  f->reserved = len;
  for (Block* b : f->blocks) m.AddRefLocked(b);
  const SequenceId id = f->id;
  m.sequences.emplace(id, std::move(f));
  ++s->ns->counters.sequences;
  return id;
}

Result<bool> KvMemory::MakeBlockCold(SequenceId seq, int64_t block_index,
                                     const std::function<Status(std::span<const uint8_t>)>& store) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  const int64_t bt = s->ns->block_tokens;
  const int64_t full = static_cast<int64_t>(s->tokens.size()) / bt;
  if (block_index < 0 || block_index >= full) {
    return OutOfRangeError("KV sequence " + std::to_string(seq) + ": block " + std::to_string(block_index) +
                           " is not one of its " + std::to_string(full) + " full blocks");
  }
  Block* b = s->blocks[static_cast<size_t>(block_index)];
  if (b->cold) return false;
  // Shared (another sequence or a transient copy holds it) or pinned blocks stay resident.
  if (!b->sealed || b->refs != 1 || b->name_pins > 0) return false;
  // Under the lock (the block must not become shared meanwhile); a failed store changes nothing.
  SKV_RETURN_IF_ERROR(store(std::span<const uint8_t>(b->data, s->ns->kv_bytes)));
  m.UnindexLocked(b);
  m.pool->Free(b->data, s->ns->slot_bytes);
  b->data = nullptr;
  b->cold = true;
  ++s->cold;
  return true;
}

Status KvMemory::Truncate(SequenceId seq, int64_t num_tokens) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  const int64_t len = static_cast<int64_t>(s->tokens.size());
  if (num_tokens < 0 || num_tokens > len) {
    return OutOfRangeError("KV sequence " + std::to_string(seq) + ": cannot truncate to " + std::to_string(num_tokens) +
                           " tokens (length " + std::to_string(len) + ")");
  }
  const int64_t bt = s->ns->block_tokens;
  if (num_tokens % bt != 0 && s->blocks[static_cast<size_t>(num_tokens / bt)]->cold) {
    return FailedPreconditionError("KV sequence " + std::to_string(seq) + ": cannot truncate to " +
                                   std::to_string(num_tokens) + " tokens, inside a cold block (its bytes are not in RAM)");
  }
  m.DropBlocksFromLocked(s, static_cast<size_t>(CeilDiv(num_tokens, bt)));
  s->tokens.resize(static_cast<size_t>(num_tokens));
  s->reserved = num_tokens;
  return Status::OK();
}

Status KvMemory::Release(SequenceId seq) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  m.DropBlocksFromLocked(s, 0);  // tail first: the private tail is evicted before the shared head
  --s->ns->counters.sequences;
  m.sequences.erase(seq);
  return Status::OK();
}

Result<int64_t> KvMemory::Length(SequenceId seq) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, impl_->FindSequenceLocked(seq));
  return static_cast<int64_t>(s->tokens.size());
}

Result<std::vector<int32_t>> KvMemory::Tokens(SequenceId seq) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, impl_->FindSequenceLocked(seq));
  return s->tokens;
}

void KvMemory::SetEvictionHook(EvictionHook hook) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->hook = std::move(hook);
}

void KvMemory::SetSealHook(SealHook hook) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->seal_hook = std::move(hook);
}

Result<bool> KvMemory::VisitSealedBlock(const Hash128& namespace_id, const BlockId& id,
                                        const std::function<void(const SealedBlockView&)>& visit) {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(NamespaceState * ns, m.FindNamespaceLocked(namespace_id));
  auto it = ns->index.find(id);
  if (it == ns->index.end()) return false;
  Block* b = it->second;
  const SealedBlockView e = Impl::ViewLocked(b, EvictionReason::kExplicit);
  if (b->refs == 0) {
    // Holding it would move it to the back of its eviction list on release.
    visit(e);
    return true;
  }
  // Held by a sequence: it can be neither evicted nor changed (sealed), and this hold keeps it
  // so after the sequence lets go. Its tokens are stable while sealed.
  m.AddRefLocked(b);
  m.transient.insert(b);
  lock.unlock();
  visit(e);
  lock.lock();
  m.transient.erase(m.transient.find(b));
  m.DropRefLocked(b);
  return true;
}

Result<PrefixProbe> KvMemory::ProbePrefix(const Hash128& namespace_id, std::span<const int32_t> tokens,
                                          int64_t max_next) const {
  Impl& m = *impl_;
  SKV_ASSIGN_OR_RETURN(NamespaceState * ns, m.NamespaceOf(namespace_id));
  PrefixProbe probe;
  if (!m.options.prefix_matching) return probe;  // nothing is matched, so nothing is worth restoring
  std::vector<BlockId> ids = ComputeBlockChain(namespace_id, tokens, ns->block_tokens);
  {
    std::lock_guard<std::mutex> lock(m.mu);
    probe.cached_blocks = static_cast<int64_t>(m.ChainLocked(ns, ids, tokens).size());
  }
  if (probe.cached_blocks > 0) probe.last_cached_id = ids[static_cast<size_t>(probe.cached_blocks - 1)];
  const size_t first = static_cast<size_t>(probe.cached_blocks);
  const size_t last = std::min(ids.size(), first + static_cast<size_t>(std::max<int64_t>(max_next, 0)));
  probe.next_ids.assign(ids.begin() + first, ids.begin() + last);
  return probe;
}

Result<bool> KvMemory::InsertSealedBlock(const Hash128& namespace_id, const BlockId& parent,
                                         std::span<const int32_t> tokens, std::span<const uint8_t> kv_bytes,
                                         std::span<const uint8_t> recurrent_state) {
  Impl& m = *impl_;
  SKV_ASSIGN_OR_RETURN(NamespaceState * ns, m.NamespaceOf(namespace_id));
  if (static_cast<int64_t>(tokens.size()) != ns->block_tokens || kv_bytes.size() != ns->kv_bytes ||
      recurrent_state.size() != ns->state_bytes) {
    return InvalidArgumentError("restored KV block for '" + ns->options.name + "' has " + std::to_string(tokens.size()) +
                                " tokens, " + Bytes(kv_bytes.size()) + " of KV and " + Bytes(recurrent_state.size()) +
                                " of state; the namespace needs " + std::to_string(ns->block_tokens) + ", " +
                                Bytes(ns->kv_bytes) + " and " + Bytes(ns->state_bytes));
  }
  const BlockId id = ComputeBlockId(namespace_id, parent, tokens);
  const BlockId parent_id = parent;  // `parent` may alias storage the hook touches
  std::unique_lock<std::mutex> lock(m.mu);
  if (ns->index.contains(id)) return false;
  if (!m.MakeRoomLocked(ns->slot_bytes)) {
    return ResourceExhaustedError("no room to restore a KV block of " + Bytes(ns->slot_bytes) + ": the budget of " +
                                  Bytes(m.pool->budget_bytes()) + " is held by running sequences");
  }
  Block* b = m.NewBlockLocked(ns);
  SKV_CHECK(b != nullptr);
  m.transient.insert(b);
  lock.unlock();
  std::memcpy(b->data, kv_bytes.data(), kv_bytes.size());
  if (!recurrent_state.empty()) std::memcpy(b->data + ns->kv_bytes, recurrent_state.data(), recurrent_state.size());
  lock.lock();
  m.transient.erase(m.transient.find(b));
  b->refs = 0;
  if (ns->index.contains(id)) {  // restored twice concurrently
    m.FreeBlockLocked(b);
    return false;
  }
  b->sealed = true;
  b->id = id;
  b->parent = parent_id;
  b->tokens.assign(tokens.begin(), tokens.end());
  ns->index.emplace(id, b);
  ns->children[parent_id].push_back(b);
  m.InheritPinsLocked(b);
  // Restores arrive head first; a child restored after its cached parent goes just before it in
  // the eviction order, so a restored chain, like a released one, is evicted tail first.
  auto pit = parent_id.IsZero() ? ns->index.end() : ns->index.find(parent_id);
  const ListKind kind = b->name_pins > 0 ? ListKind::kPinned : ListKind::kLru;
  if (pit != ns->index.end() && pit->second->refs == 0 && pit->second->list == kind) {
    (kind == ListKind::kPinned ? m.pinned : m.lru).InsertBefore(pit->second, b, kind);
    m.evictable_bytes += ns->slot_bytes;
  } else {
    m.MakeCachedLocked(b);
  }
  return true;
}

Result<int64_t> KvMemory::PinPrefix(const std::string& name, const Hash128& namespace_id,
                                    std::span<const int32_t> tokens, int64_t ttl_nanos) {
  Impl& m = *impl_;
  if (name.empty()) return InvalidArgumentError("a KV pin needs a name");
  SKV_ASSIGN_OR_RETURN(NamespaceState * ns, m.NamespaceOf(namespace_id));
  std::vector<BlockId> ids = ComputeBlockChain(namespace_id, tokens, ns->block_tokens);
  std::lock_guard<std::mutex> lock(m.mu);
  m.ExpirePinsLocked();
  if (auto it = m.pins.find(name); it != m.pins.end()) m.UnpinLocked(it);
  Pin pin;
  pin.ns = ns;
  pin.expires_at_nanos = ttl_nanos > 0 ? m.Now() + ttl_nanos : 0;
  int64_t resident = 0;
  // Tail first: among pinned blocks too, a prefix's tail is evicted before its head.
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    ++ns->pin_wanted[*it];
    auto bit = ns->index.find(*it);
    if (bit != ns->index.end()) {
      m.SetPinLocked(bit->second, +1);
      ++resident;
    }
  }
  pin.ids = std::move(ids);
  m.pins.emplace(name, std::move(pin));
  return resident * ns->block_tokens;
}

Status KvMemory::UnpinPrefix(const std::string& name) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  auto it = m.pins.find(name);
  if (it == m.pins.end()) return NotFoundError("no KV pin named '" + name + "'");
  m.UnpinLocked(it);
  return Status::OK();
}

std::vector<PinInfo> KvMemory::ListPins() const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  std::vector<PinInfo> out;
  for (const auto& [name, pin] : m.pins) {
    int64_t resident = 0;
    for (const BlockId& id : pin.ids) resident += pin.ns->index.contains(id) ? 1 : 0;
    out.push_back({name, pin.ns->options.id, resident * pin.ns->block_tokens, pin.expires_at_nanos});
  }
  return out;
}

uint64_t KvMemory::EvictCached(uint64_t bytes, EvictOrder order) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  uint64_t freed = 0;
  while (freed < bytes && (!m.lru.empty() || !m.pinned.empty())) {
    Block* b = order == EvictOrder::kOldestFirst ? (!m.lru.empty() ? m.lru.front() : m.pinned.front())
                                                 : (!m.pinned.empty() ? m.pinned.back() : m.lru.back());
    freed += b->ns->slot_bytes;
    m.EvictLocked(b, EvictionReason::kExplicit);
  }
  return freed;
}

MemoryStats KvMemory::Stats() const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  MemoryStats st;
  st.budget_bytes = m.pool->budget_bytes();
  st.used_bytes = m.pool->used_bytes();
  st.committed_bytes = m.pool->committed_bytes();
  st.pins = static_cast<int64_t>(m.pins.size());
  st.evictions = m.evictions;
  std::unordered_map<const NamespaceState*, NamespaceStats> by_ns;
  for (const auto& [id, ns] : m.namespaces) {
    NamespaceStats n = ns->counters;
    n.slot_bytes = ns->slot_bytes;
    by_ns.emplace(ns.get(), std::move(n));
  }
  for (const Block* b : m.blocks) {
    if (b->cold) continue;  // no slot: its bytes are on the caller's cold store
    NamespaceStats& n = by_ns[b->ns];
    if (b->refs > 0) {
      ++n.blocks_in_use;
      n.bytes_in_use += b->ns->slot_bytes;
      if (!b->sealed) ++n.blocks_private;
    } else {
      ++n.blocks_cached;
      n.bytes_cached += b->ns->slot_bytes;
    }
    if (b->name_pins > 0) {
      ++n.blocks_pinned;
      n.bytes_pinned += b->ns->slot_bytes;
    }
  }
  for (auto& [ns, n] : by_ns) st.namespaces.push_back(std::move(n));
  std::sort(st.namespaces.begin(), st.namespaces.end(),
            [](const NamespaceStats& a, const NamespaceStats& b) { return a.name < b.name || (a.name == b.name && a.id < b.id); });
  return st;
}

std::vector<SharedPrefix> KvMemory::MostSharedPrefixes(size_t max) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  std::vector<SharedPrefix> out;
  for (const auto& [ns_id, ns_ptr] : m.namespaces) {
    const NamespaceState* ns = ns_ptr.get();  // (a lambda cannot capture a structured binding in C++20)
    std::unordered_map<BlockId, int64_t, Hash128Hasher> depth;  // blocks from the sequence start
    auto depth_of = [&](const Block* b) {
      // Walk up to the first block of known depth (or the root), then fill in on the way back.
      std::vector<const Block*> chain;
      int64_t d = 0;
      for (const Block* p = b; p != nullptr;) {
        if (auto it = depth.find(p->id); it != depth.end()) {
          d = it->second;
          break;
        }
        chain.push_back(p);
        if (p->parent.IsZero()) break;
        auto pit = ns->index.find(p->parent);
        p = pit == ns->index.end() ? nullptr : pit->second;
      }
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) depth[(*it)->id] = ++d;
      return d;
    };
    for (const auto& [id, b] : ns->index) {
      if (b->refs < 2) continue;
      bool longer_with_as_many = false;
      if (auto cit = ns->children.find(id); cit != ns->children.end()) {
        for (const Block* c : cit->second) longer_with_as_many |= c->refs >= b->refs;
      }
      if (longer_with_as_many) continue;
      SharedPrefix p;
      p.namespace_id = ns_id;
      p.namespace_name = ns->options.name;
      p.last_block = id;
      const int64_t blocks = depth_of(b);
      p.tokens = blocks * ns->block_tokens;
      p.sequences = b->refs;
      p.bytes = static_cast<uint64_t>(blocks) * ns->slot_bytes;
      p.bytes_saved = static_cast<uint64_t>(b->refs - 1) * p.bytes;
      p.pinned = b->name_pins > 0;
      out.push_back(std::move(p));
    }
  }
  std::sort(out.begin(), out.end(), [](const SharedPrefix& a, const SharedPrefix& b) {
    if (a.bytes_saved != b.bytes_saved) return a.bytes_saved > b.bytes_saved;
    return a.last_block < b.last_block;
  });
  if (out.size() > max) out.resize(max);
  return out;
}

Status KvMemory::CheckInvariants() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->CheckLocked();
}

Status KvMemory::Impl::CheckLocked() const {
  SKV_RETURN_IF_ERROR(pool->CheckInvariants());
  std::unordered_map<const Block*, int64_t> refs;
  for (const auto& [id, s] : sequences) {
    const std::string where = "sequence " + std::to_string(id) + ": ";
    const int64_t bt = s->ns->block_tokens;
    const int64_t len = static_cast<int64_t>(s->tokens.size());
    if (s->reserved < len) return InternalError(where + "reserved < length");
    if (s->cold != std::count_if(s->blocks.begin(), s->blocks.end(), [](const Block* b) { return b->cold; })) {
      return InternalError(where + "cold block count drifted");
    }
    if (static_cast<int64_t>(s->blocks.size()) != CeilDiv(s->reserved, bt)) {
      return InternalError(where + std::to_string(s->blocks.size()) + " blocks for " + std::to_string(s->reserved) + " reserved positions");
    }
    BlockId parent;
    for (size_t i = 0; i < s->blocks.size(); ++i) {
      Block* b = s->blocks[i];
      if (!blocks.contains(b)) return InternalError(where + "references a freed block");
      if (b->ns != s->ns) return InternalError(where + "holds a block of another namespace");
      ++refs[b];
      const int64_t start = static_cast<int64_t>(i) * bt;
      if (start + bt <= len) {
        if (!b->sealed) return InternalError(where + "full block " + std::to_string(i) + " is not sealed");
        std::span<const int32_t> toks(s->tokens.data() + start, static_cast<size_t>(bt));
        if (b->parent != parent || b->id != ComputeBlockId(s->ns->options.id, parent, toks)) {
          return InternalError(where + "block " + std::to_string(i) + " does not chain from its parent");
        }
        if (!std::equal(toks.begin(), toks.end(), b->tokens.begin())) {
          return InternalError(where + "block " + std::to_string(i) + " holds other tokens");
        }
        parent = b->id;
      } else if (start < len) {
        if (b->sealed && !std::equal(s->tokens.begin() + start, s->tokens.end(), b->tokens.begin())) {
          return InternalError(where + "shared partial tail holds other tokens");
        }
        if (s->reserved > len && (b->sealed || b->refs != 1)) return InternalError(where + "reserved tail is not private");
      } else if (b->sealed || b->refs != 1) {
        return InternalError(where + "reserved block " + std::to_string(i) + " is not private");
      }
    }
    if (s->cow_source != nullptr) ++refs[s->cow_source];
  }
  for (const Block* b : transient) ++refs[b];
  uint64_t used = 0, evictable = 0;
  for (const Block* b : blocks) {
    if (b->cold) {
      if (b->data != nullptr || !b->sealed || b->refs != 1 || b->list != ListKind::kNone || b->name_pins != 0) {
        return InternalError("cold block " + b->id.ToHex() + " has a slot, is shared, pinned or cached");
      }
      if (refs.contains(b) ? refs.at(b) != 1 : true) return InternalError("cold block " + b->id.ToHex() + " is not held once");
      continue;
    }
    used += b->ns->slot_bytes;
    const int64_t want = refs.contains(b) ? refs.at(b) : 0;
    if (b->refs != want) {
      return InternalError("block " + b->id.ToHex() + " has refcount " + std::to_string(b->refs) + " but " +
                           std::to_string(want) + " holders");
    }
    if (b->refs == 0) {
      if (!b->sealed) return InternalError("an unsealed block is held by nobody");
      const ListKind want_list = b->name_pins > 0 ? ListKind::kPinned : ListKind::kLru;
      if (b->list != want_list) return InternalError("cached block " + b->id.ToHex() + " is not in its eviction list");
      evictable += b->ns->slot_bytes;
    } else if (b->list != ListKind::kNone) {
      return InternalError("block " + b->id.ToHex() + " is held but sits in an eviction list");
    }
    if (b->sealed) {
      auto it = b->ns->index.find(b->id);
      if (it == b->ns->index.end() || it->second != b) return InternalError("sealed block " + b->id.ToHex() + " is not its index entry");
      if (static_cast<int64_t>(b->tokens.size()) != b->ns->block_tokens) return InternalError("sealed block without B tokens");
    }
  }
  if (used != pool->used_bytes()) return InternalError("pool bytes in use differ from the live blocks' slots");
  if (evictable != evictable_bytes) return InternalError("evictable bytes drifted");
  if (lru.size() + pinned.size() != static_cast<int64_t>(std::count_if(blocks.begin(), blocks.end(), [](const Block* b) { return b->refs == 0; }))) {
    return InternalError("eviction lists hold blocks that are not cached");
  }
  std::unordered_map<const NamespaceState*, std::unordered_map<BlockId, int32_t, Hash128Hasher>> wanted;
  for (const auto& [name, pin] : pins) {
    for (const BlockId& id : pin.ids) ++wanted[pin.ns][id];
  }
  for (const auto& [id, ns] : namespaces) {
    size_t children = 0;
    for (const auto& [parent, list] : ns->children) {
      for (Block* c : list) {
        if (!blocks.contains(c) || !c->sealed || c->parent != parent) return InternalError("children list is stale");
      }
      children += list.size();
    }
    if (children != ns->index.size()) return InternalError("children lists and the index disagree");
    if (ns->pin_wanted != wanted[ns.get()]) return InternalError("pinned identities differ from the pins");
    for (const auto& [bid, b] : ns->index) {
      if (!blocks.contains(b) || b->id != bid || b->ns != ns.get()) return InternalError("index entry is stale");
      auto w = ns->pin_wanted.find(bid);
      if (b->name_pins != (w == ns->pin_wanted.end() ? 0 : w->second)) {
        return InternalError("block pin count differs from the pins naming it");
      }
    }
  }
  return Status::OK();
}

std::string KvMemory::DebugString() const {
  Impl& m = *impl_;
  MemoryStats st = Stats();
  std::lock_guard<std::mutex> lock(m.mu);
  std::ostringstream os;
  os << "KvMemory budget=" << st.budget_bytes << " used=" << st.used_bytes << " committed=" << st.committed_bytes
     << " sequences=" << m.sequences.size() << " blocks=" << m.blocks.size() << " lru=" << m.lru.size()
     << " pinned=" << m.pinned.size() << " pins=" << m.pins.size() << "\n";
  for (const NamespaceStats& n : st.namespaces) {
    os << "  ns " << n.name << " " << n.id.ToHex().substr(0, 12) << " slot=" << n.slot_bytes << " seqs=" << n.sequences
       << " in_use=" << n.blocks_in_use << " private=" << n.blocks_private << " cached=" << n.blocks_cached
       << " pinned=" << n.blocks_pinned << " hit=" << n.prefix_tokens_hit << " computed=" << n.prefix_tokens_computed
       << " evicted=" << n.evictions[0] << "/" << n.evictions[1] << "/" << n.evictions[2] << "\n";
  }
  for (const auto& [id, s] : m.sequences) {
    os << "  seq " << id << " ns=" << s->ns->options.name << " len=" << s->tokens.size() << " reserved=" << s->reserved
       << " blocks=[";
    for (size_t i = 0; i < s->blocks.size(); ++i) {
      const Block* b = s->blocks[i];
      os << (i ? " " : "") << (b->sealed ? b->id.ToHex().substr(0, 6) : "private") << "/r" << b->refs;
    }
    os << "]\n";
  }
  os << m.pool->DebugString();
  return os.str();
}

}  // namespace swarmkv
