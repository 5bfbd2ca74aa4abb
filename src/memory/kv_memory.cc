// KvMemory's core: block lifecycle, eviction, matching and sealing, namespaces, sequences, and the
// tier manager's restore path. Pins, stats and invariant checks live beside it (kv_memory_impl.h).
#include "memory/kv_memory.h"

#include <algorithm>
#include <cstring>

#include "base/logging.h"
#include "memory/kv_memory_impl.h"

namespace swarmkv {

using internal::Block;
using internal::Bytes;
using internal::CeilDiv;
using internal::ListKind;
using internal::NamespaceState;
using internal::Sequence;
using internal::SlotOf;

// ---- Block lifecycle

Block* KvMemory::Impl::NewBlockLocked(NamespaceState* ns, bool has_state) {
  const uint64_t slot = ns->SlotBytesFor(has_state);
  uint8_t* data = slot == 0 ? nullptr : pool->Allocate(slot);
  if (slot != 0 && data == nullptr) return nullptr;
  Block* b = new Block;
  b->data = data;
  b->ns = ns;
  b->has_state = has_state;
  b->refs = 1;
  blocks.insert(b);
  return b;
}

void KvMemory::Impl::FreeBlockLocked(Block* b) {
  SKV_CHECK(b->refs == 0 && b->list == ListKind::kNone);
  if (b->data != nullptr) pool->Free(b->data, SlotOf(b));
  blocks.erase(b);
  delete b;
}

void KvMemory::Impl::AddRefLocked(Block* b) {
  if (b->refs == 0) {
    SKV_CHECK(b->list != ListKind::kNone);
    (b->list == ListKind::kLru ? lru : pinned).Remove(b);
    evictable_bytes -= SlotOf(b);
  }
  ++b->refs;
}

void KvMemory::Impl::MakeCachedLocked(Block* b) {
  (b->name_pins > 0 ? pinned : lru).PushBack(b, b->name_pins > 0 ? ListKind::kPinned : ListKind::kLru);
  evictable_bytes += SlotOf(b);
}

void KvMemory::Impl::DropRefLocked(Block* b) {
  SKV_CHECK(b->refs > 0);
  if (--b->refs > 0) return;
  if (b->sealed && !b->cold) {
    MakeCachedLocked(b);
  } else {
    FreeBlockLocked(b);
  }
}

void KvMemory::Impl::UnindexLocked(Block* b) {
  NamespaceState* ns = b->ns;
  ns->index.erase(b->id);
  auto it = ns->children.find(b->parent);
  if (it != ns->children.end()) {
    std::erase(it->second, b);
    if (it->second.empty()) ns->children.erase(it);
  }
}

// What the eviction hook and VisitSealedBlock see of a sealed block (views into its slot).
SealedBlockView KvMemory::Impl::ViewLocked(const Block* b, EvictionReason reason) {
  const NamespaceState* ns = b->ns;
  SealedBlockView e;
  e.namespace_id = ns->options.id;
  e.id = b->id;
  e.parent = b->parent;
  e.tokens = b->tokens;
  e.kv_bytes = std::span<const uint8_t>(b->data, ns->kv_bytes);
  if (b->has_state) e.recurrent_state = std::span<const uint8_t>(b->data + ns->kv_bytes, ns->state_bytes);
  e.layout = &ns->layout;
  e.reason = reason;
  return e;
}

void KvMemory::Impl::EvictLocked(Block* b, EvictionReason reason) {
  SKV_CHECK(b->refs == 0 && b->sealed && b->list != ListKind::kNone);
  NamespaceState* ns = b->ns;
  if (hook) hook(ViewLocked(b, reason));
  (b->list == ListKind::kLru ? lru : pinned).Remove(b);
  evictable_bytes -= SlotOf(b);
  b->name_pins = 0;  // the pins still name the identity: a restored copy is pinned again
  UnindexLocked(b);
  ++evictions[static_cast<int>(reason)];
  ++ns->counters.evictions[static_cast<int>(reason)];
  FreeBlockLocked(b);
}

// Evicts until `bytes` more fit in the budget. False (and nothing evicted) when impossible.
bool KvMemory::Impl::MakeRoomLocked(uint64_t bytes) {
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

// ---- Matching and sealing

// The cached chain for precomputed `ids` (the prompt's full blocks): stops at the first miss.
std::vector<Block*> KvMemory::Impl::ChainLocked(NamespaceState* ns, const std::vector<BlockId>& ids,
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
Block* KvMemory::Impl::BestPartialLocked(NamespaceState* ns, const BlockId& parent,
                                         std::span<const int32_t> rest, int64_t* matched) const {
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

void KvMemory::Impl::SealLocked(Sequence* s, size_t i) {
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
void KvMemory::Impl::DropBlocksFromLocked(Sequence* s, size_t keep) {
  while (s->blocks.size() > keep) {
    Block* b = s->blocks.back();
    s->blocks.pop_back();
    if (b->cold) --s->cold;
    DropRefLocked(b);
  }
}

// ---- KvMemory

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

namespace {

// A namespace's block must hold something: the state-only shape (no KV layer: a pure recurrent
// model such as mamba2) needs a recurrent state.
Status CheckBlockHasContents(const NamespaceOptions& options) {
  if (options.shape.num_layers == 0 && options.recurrent_bytes_per_layer.empty())
    return InvalidArgumentError("KV namespace '" + options.name + "' has neither KV layers nor recurrent state");
  return Status::OK();
}

}  // namespace

Status KvMemory::RegisterNamespace(const NamespaceOptions& options) {
  SKV_ASSIGN_OR_RETURN(KvLayout layout, KvLayout::Create(options.shape));
  SKV_RETURN_IF_ERROR(CheckBlockHasContents(options));
  uint64_t state_bytes = 0;
  for (uint64_t v : options.recurrent_bytes_per_layer) {
    if (v == 0 || v > (1ull << 32)) {
      return InvalidArgumentError("KV namespace '" + options.name + "': recurrent state bytes per layer must be in 1..4GiB");
    }
    state_bytes += v;
  }
  if (options.checkpoint_interval_blocks < 1 || options.checkpoint_interval_blocks > (1 << 20)) {
    return InvalidArgumentError("KV namespace '" + options.name + "': checkpoint interval of " +
                                std::to_string(options.checkpoint_interval_blocks) + " blocks is not in 1..2^20");
  }
  const uint64_t slot = BlockPool::SlotBytes(layout.block_bytes() + state_bytes);
  const uint64_t kv_slot = layout.block_bytes() == 0 ? 0 : BlockPool::SlotBytes(layout.block_bytes());
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
  // Blocks the checkpoint interval gives no checkpoint take the KV's slot alone (at any interval:
  // a tier entry written under another one may come without its checkpoint).
  if (state_bytes > 0 && kv_slot > 0) {
    SKV_RETURN_IF_ERROR(m.pool->AddSizeClass(kv_slot).WithContext("KV namespace '" + options.name + "'"));
  }
  auto ns = std::make_unique<NamespaceState>();
  ns->options = options;
  ns->layout = layout;
  ns->kv_bytes = layout.block_bytes();
  ns->state_bytes = state_bytes;
  ns->slot_bytes = slot;
  ns->kv_slot_bytes = state_bytes == 0 ? slot : kv_slot;
  ns->checkpoint_interval = state_bytes == 0 ? 1 : options.checkpoint_interval_blocks;
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
  if (ns->state_bytes > 0) {
    // State exists only after checkpointed blocks: roll back to the last one.
    const size_t keep = internal::CheckpointedPrefix(chain);
    match.rolled_back_tokens = static_cast<int64_t>(chain.size() - keep) * bt;
    ns->counters.checkpoint_rollback_tokens += match.rolled_back_tokens;
    chain.resize(keep);
  }
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
    match.recurrent_state = Impl::ViewLocked(chain.back(), EvictionReason::kExplicit).recurrent_state;
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
  const uint64_t cow_bytes = cow ? ns->SlotBytesFor(ns->CheckpointAt(len / bt)) : 0;
  const uint64_t needed = ns->SlotBytesOfBlocks(have, total) + cow_bytes;
  // Cold blocks (never in a namespace with state) hold no slot.
  const uint64_t alone = ns->SlotBytesOfBlocks(0, total) - static_cast<uint64_t>(s->cold) * ns->kv_slot_bytes + cow_bytes;
  if (alone > m.pool->budget_bytes()) {
    return ResourceExhaustedError("KV sequence " + std::to_string(seq) + " of '" + ns->options.name + "' needs " +
                                  Bytes(alone) + " (" + std::to_string(total) + " blocks of up to " + Bytes(ns->slot_bytes) +
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
    Block* b = m.NewBlockLocked(ns, ns->CheckpointAt(have + i));
    SKV_CHECK(b != nullptr) << "pool refused a block after making room";
    s->blocks.push_back(b);
  }
  s->reserved = want;
  if (!cow) return Status::OK();
  Block* fresh = m.NewBlockLocked(ns, ns->CheckpointAt(len / bt));
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
    const uint64_t cow_bytes = cow ? ns->SlotBytesFor(ns->CheckpointAt(len / bt)) : 0;
    plan.bytes_needed = ns->SlotBytesOfBlocks(total - add, total) + cow_bytes;
    plan.fits_alone = ns->SlotBytesOfBlocks(0, total) - static_cast<uint64_t>(s->cold) * ns->kv_slot_bytes + cow_bytes <=
                      m.pool->budget_bytes();
  }
  // NOTE: expired pins are not expired here (const); they count as pinned until the next Reserve.
  uint64_t pinned_bytes = 0;
  for (const Block* b = m.pinned.front(); b != nullptr; b = b->next) pinned_bytes += SlotOf(b);
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
  // The blocks under the checkpoint policy, plus the largest slot for a copy-on-write copy.
  return ns->SlotBytesOfBlocks(0, CeilDiv(num_tokens, ns->block_tokens)) + ns->slot_bytes;
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
  SKV_RETURN_IF_ERROR(MutableBlock(seq, position).status());
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  if (s->ns->state_bytes == 0) {
    return FailedPreconditionError("KV namespace '" + s->ns->options.name + "' has no recurrent state");
  }
  const Block* b = s->blocks[static_cast<size_t>(position / s->ns->block_tokens)];
  if (!b->has_state) return std::span<uint8_t>();  // the interval gives this block no checkpoint
  return std::span<uint8_t>(b->data + s->ns->kv_bytes, s->ns->state_bytes);
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
  m.pool->Free(b->data, SlotOf(b));
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

Result<PrefixMatch> KvMemory::TruncateToCheckpoint(SequenceId seq, int64_t num_tokens) {
  int64_t keep = num_tokens;
  {
    Impl& m = *impl_;
    std::lock_guard<std::mutex> lock(m.mu);
    SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
    const NamespaceState* ns = s->ns;
    const int64_t len = static_cast<int64_t>(s->tokens.size());
    if (ns->state_bytes > 0 && num_tokens >= 0 && num_tokens <= len) {
      // The same roll-back as a prefix match: to the last checkpoint within the kept full blocks.
      const auto full = std::span<Block* const>(s->blocks).first(static_cast<size_t>(num_tokens / ns->block_tokens));
      keep = static_cast<int64_t>(internal::CheckpointedPrefix(full)) * ns->block_tokens;
    }
  }
  SKV_RETURN_IF_ERROR(Truncate(seq, keep));
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  SKV_ASSIGN_OR_RETURN(Sequence * s, m.FindSequenceLocked(seq));
  PrefixMatch r;
  r.matched_tokens = keep;
  r.shared_blocks = keep / s->ns->block_tokens;
  r.rolled_back_tokens = num_tokens - keep;
  if (s->ns->state_bytes > 0 && keep > 0) r.recurrent_state = Impl::ViewLocked(s->blocks.back(), EvictionReason::kExplicit).recurrent_state;
  return r;
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
  // A hybrid block comes with its whole checkpoint or without one (the checkpoint interval).
  const bool has_state = ns->state_bytes > 0 && !recurrent_state.empty();
  if (static_cast<int64_t>(tokens.size()) != ns->block_tokens || kv_bytes.size() != ns->kv_bytes ||
      (recurrent_state.size() != ns->state_bytes && !recurrent_state.empty())) {
    return InvalidArgumentError("restored KV block for '" + ns->options.name + "' has " + std::to_string(tokens.size()) +
                                " tokens, " + Bytes(kv_bytes.size()) + " of KV and " + Bytes(recurrent_state.size()) +
                                " of state; the namespace needs " + std::to_string(ns->block_tokens) + ", " +
                                Bytes(ns->kv_bytes) + " and " + Bytes(ns->state_bytes) + " (or none)");
  }
  const BlockId id = ComputeBlockId(namespace_id, parent, tokens);
  const BlockId parent_id = parent;  // `parent` may alias storage the hook touches
  std::unique_lock<std::mutex> lock(m.mu);
  if (ns->index.contains(id)) return false;
  if (!m.MakeRoomLocked(ns->SlotBytesFor(has_state))) {
    return ResourceExhaustedError("no room to restore a KV block of " + Bytes(ns->SlotBytesFor(has_state)) + ": the budget of " +
                                  Bytes(m.pool->budget_bytes()) + " is held by running sequences");
  }
  Block* b = m.NewBlockLocked(ns, has_state);
  SKV_CHECK(b != nullptr);
  m.transient.insert(b);
  lock.unlock();
  if (!kv_bytes.empty()) std::memcpy(b->data, kv_bytes.data(), kv_bytes.size());
  if (has_state) std::memcpy(b->data + ns->kv_bytes, recurrent_state.data(), recurrent_state.size());
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
    m.evictable_bytes += SlotOf(b);
  } else {
    m.MakeCachedLocked(b);
  }
  return true;
}

uint64_t KvMemory::EvictCached(uint64_t bytes, EvictOrder order) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  uint64_t freed = 0;
  while (freed < bytes && (!m.lru.empty() || !m.pinned.empty())) {
    Block* b = order == EvictOrder::kOldestFirst ? (!m.lru.empty() ? m.lru.front() : m.pinned.front())
                                                 : (!m.pinned.empty() ? m.pinned.back() : m.lru.back());
    freed += SlotOf(b);
    m.EvictLocked(b, EvictionReason::kExplicit);
  }
  return freed;
}

}  // namespace swarmkv
