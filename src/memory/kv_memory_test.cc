// Exact-policy tests of KvMemory: sharing, copy-on-write, fork/truncate, dedupe, eviction order
// block by block, pins with TTL on an injected clock, budget errors, recurrent state, tier seams.
#include "memory/kv_memory.h"

#include <gtest/gtest.h>

#include <numeric>

#include "memory/kv_test_util.h"
#include "memory/sequence_handle.h"

namespace swarmkv {
namespace {

using testing::AppendTokens;
using testing::VerifySequence;

constexpr uint64_t kSlot = 4096;  // the test shape's 2 KiB block rounds up to one page
constexpr uint64_t kSalt = 77;

std::vector<int32_t> Toks(int n, int start) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), start);
  return t;
}
std::vector<int32_t> Cat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class KvMemoryTest : public ::testing::Test {
 protected:
  const Hash128 kNs{0xA1, 0xB2};

  void Make(uint64_t budget_blocks, std::vector<uint64_t> recurrent = {}, int32_t checkpoint_interval = 1) {
    KvMemoryOptions o;
    o.budget_bytes = budget_blocks * kSlot;
    o.retain_free_bytes = 0;
    o.clock_nanos = [this] { return now_; };
    o.prefix_matching = prefix_matching_;
    auto m = KvMemory::Create(std::move(o));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    mem_ = std::move(*m);
    NamespaceOptions ns;
    ns.id = kNs;
    ns.name = "test";
    ns.shape.num_layers = state_only_ ? 0 : 2;
    ns.shape.num_kv_heads = state_only_ ? 0 : 2;
    ns.shape.head_dim_k = state_only_ ? 0 : 32;
    ns.shape.head_dim_v = state_only_ ? 0 : 32;
    ns.shape.block_tokens = 4;
    ns.recurrent_bytes_per_layer = recurrent;
    ns.checkpoint_interval_blocks = checkpoint_interval;
    has_state_ = !recurrent.empty();
    ASSERT_TRUE(mem_->RegisterNamespace(ns).ok());
    layout_ = *mem_->Layout(kNs);
    mem_->SetEvictionHook([this](const SealedBlockView& e) { evicted_.push_back(e.id); });
  }
  void TearDown() override {
    if (mem_) EXPECT_TRUE(mem_->CheckInvariants().ok()) << mem_->CheckInvariants().ToString();
  }
  SequenceId NewSeq() { return *mem_->CreateSequence(kNs); }
  void Append(SequenceId s, const std::vector<int32_t>& t) {
    Status st = AppendTokens(*mem_, s, layout_, kSalt, t, has_state_);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(mem_->CheckInvariants().ok()) << mem_->CheckInvariants().ToString() << mem_->DebugString();
  }
  // A sequence holding `t`, computed from scratch.
  SequenceId Computed(const std::vector<int32_t>& t) {
    SequenceId s = NewSeq();
    Append(s, t);
    return s;
  }
  std::vector<BlockId> Chain(const std::vector<int32_t>& t) { return ComputeBlockChain(kNs, t, 4); }
  const NamespaceStats& Ns() {
    stats_ = mem_->Stats();
    return stats_.namespaces.at(0);
  }

  int64_t now_ = 1'000'000'000;
  bool prefix_matching_ = true;
  bool state_only_ = false;  // a pure recurrent model's namespace: no KV layer, checkpoints only
  std::unique_ptr<KvMemory> mem_;
  KvLayout layout_;
  bool has_state_ = false;
  std::vector<BlockId> evicted_;
  MemoryStats stats_;
};

TEST_F(KvMemoryTest, SealedBlocksAreSharedWithoutCopy) {
  Make(32);
  const auto t = Toks(10, 100);
  SequenceId a = Computed(t);
  EXPECT_EQ(Ns().blocks_in_use, 3);
  EXPECT_EQ(Ns().blocks_private, 1);
  EXPECT_EQ(Ns().prefix_tokens_computed, 10);
  SequenceId b = NewSeq();
  auto m = mem_->AttachPrefix(b, t);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->matched_tokens, 8) << "the private tail of a running sequence is not shareable";
  EXPECT_EQ(m->shared_blocks, 2);
  EXPECT_EQ(m->partial_tokens, 0);
  auto ta = *mem_->GetBlockTable(a), tb = *mem_->GetBlockTable(b);
  ASSERT_EQ(tb.blocks.size(), 2u);
  EXPECT_EQ(tb.blocks[0], ta.blocks[0]);
  EXPECT_EQ(tb.blocks[1], ta.blocks[1]);
  EXPECT_EQ(Ns().blocks_in_use, 3) << "sharing allocates nothing";
  EXPECT_EQ(Ns().prefix_tokens_hit, 8);
  const auto tail = Toks(5, 900);
  Append(b, tail);
  EXPECT_TRUE(VerifySequence(*mem_, a, layout_, kSalt, t));
  EXPECT_TRUE(VerifySequence(*mem_, b, layout_, kSalt, Cat(Toks(8, 100), tail)));
  ASSERT_TRUE(mem_->Release(a).ok());
  ASSERT_TRUE(mem_->Release(b).ok());
  EXPECT_EQ(Ns().blocks_in_use, 0);
  EXPECT_EQ(Ns().blocks_cached, 3) << "a's two blocks are shared with b; b sealed one more; private tails freed";
}

// Three sequences share a 4-block context; two of them also share the next 2 blocks.
TEST_F(KvMemoryTest, MostSharedPrefixesAreTheLongestChainPerNumberOfHolders) {
  Make(64);
  const auto context = Toks(16, 100);
  const auto more = Cat(context, Toks(8, 500));
  SequenceId a = Computed(Cat(more, Toks(2, 900)));  // 6 sealed blocks + a private tail
  std::vector<SequenceId> others;
  for (const auto& t : {Cat(more, Toks(3, 910)), Cat(context, Toks(5, 920))}) {
    SequenceId s = NewSeq();
    auto m = mem_->AttachPrefix(s, t);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    others.push_back(s);
  }
  const auto top = mem_->MostSharedPrefixes(10);
  ASSERT_EQ(top.size(), 2u) << mem_->DebugString();
  const uint64_t slot = Ns().slot_bytes;
  // 3 holders of 16 tokens save 2 x 4 blocks; 2 holders of 24 tokens save 1 x 6 blocks.
  EXPECT_EQ(top[0].tokens, 16);
  EXPECT_EQ(top[0].sequences, 3);
  EXPECT_EQ(top[0].bytes, 4 * slot);
  EXPECT_EQ(top[0].bytes_saved, 8 * slot);
  EXPECT_EQ(top[0].last_block, Chain(context).back());
  EXPECT_EQ(top[1].tokens, 24);
  EXPECT_EQ(top[1].sequences, 2);
  EXPECT_EQ(top[1].bytes_saved, 6 * slot);
  EXPECT_EQ(top[1].namespace_name, "test");
  EXPECT_FALSE(top[0].pinned);
  EXPECT_EQ(mem_->MostSharedPrefixes(1).size(), 1u);
  for (SequenceId s : others) ASSERT_TRUE(mem_->Release(s).ok());
  EXPECT_TRUE(mem_->MostSharedPrefixes(10).empty()) << "one holder shares nothing";
  ASSERT_TRUE(mem_->Release(a).ok());
}

TEST_F(KvMemoryTest, EvictionIsLruAndTailFirstBlockByBlock) {
  Make(6);
  const auto ta = Toks(12, 0), tb = Toks(8, 500);
  SequenceId a = Computed(ta);
  ASSERT_TRUE(mem_->Release(a).ok());
  SequenceId b = Computed(tb);
  ASSERT_TRUE(mem_->Release(b).ok());
  const auto ia = Chain(ta), ib = Chain(tb);
  // LRU front to back: A2 A1 A0 B1 B0. A request for 5 blocks with 1 free evicts four.
  SequenceId c = NewSeq();
  ASSERT_TRUE(mem_->Reserve(c, 20).ok());
  EXPECT_EQ(evicted_, (std::vector<BlockId>{ia[2], ia[1], ia[0], ib[1]}));
  EXPECT_EQ(mem_->Stats().evictions[static_cast<int>(EvictionReason::kBudget)], 4);
  ASSERT_TRUE(mem_->Release(c).ok());
  SequenceId d = NewSeq();
  EXPECT_EQ(mem_->AttachPrefix(d, tb)->matched_tokens, 4) << "B0 survived";
  ASSERT_TRUE(mem_->Release(d).ok());
}

TEST_F(KvMemoryTest, SharedHeadOutlivesThePrivateTailsHangingFromIt) {
  Make(16);
  const auto head = Toks(4, 1);
  SequenceId a = Computed(Cat(head, Toks(4, 50)));
  SequenceId b = NewSeq();
  ASSERT_EQ(mem_->AttachPrefix(b, head)->matched_tokens, 4);
  Append(b, Toks(4, 60));
  ASSERT_TRUE(mem_->Release(a).ok());
  ASSERT_TRUE(mem_->Release(b).ok());
  EXPECT_EQ(mem_->EvictCached(3 * kSlot), 3 * kSlot);
  EXPECT_EQ(evicted_, (std::vector<BlockId>{Chain(Cat(head, Toks(4, 50)))[1], Chain(Cat(head, Toks(4, 60)))[1],
                                            Chain(head)[0]}));
}

TEST_F(KvMemoryTest, PartialMatchIsCopiedOnWrite) {
  Make(16);
  const auto t = Toks(8, 10);
  SequenceId a = Computed(t);
  ASSERT_TRUE(mem_->Release(a).ok());
  // Shares 6 of the 8 cached tokens: one whole block plus 2 rows of the second.
  auto prompt = Cat(Toks(6, 10), {99, 98});
  SequenceId b = NewSeq();
  auto m = mem_->AttachPrefix(b, prompt);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->matched_tokens, 6);
  EXPECT_EQ(m->shared_blocks, 1);
  EXPECT_EQ(m->partial_tokens, 2);
  EXPECT_EQ(Ns().cow_copies, 0) << "nothing is copied until the sequence writes";
  Append(b, {99, 98});
  EXPECT_EQ(Ns().cow_copies, 1);
  EXPECT_TRUE(VerifySequence(*mem_, b, layout_, kSalt, prompt));
  // The cached block the rows came from is untouched.
  SequenceId c = NewSeq();
  EXPECT_EQ(mem_->AttachPrefix(c, t)->matched_tokens, 8);
  EXPECT_TRUE(VerifySequence(*mem_, c, layout_, kSalt, t));
  for (SequenceId s : {b, c}) ASSERT_TRUE(mem_->Release(s).ok());
}

TEST_F(KvMemoryTest, ForkSharesEverythingAndCopiesTheTailOnlyOnce) {
  Make(16);
  const auto t = Toks(6, 0);
  SequenceId a = Computed(t);
  auto f = mem_->Fork(a);
  ASSERT_TRUE(f.ok());
  auto ta = *mem_->GetBlockTable(a), tf = *mem_->GetBlockTable(*f);
  EXPECT_EQ(ta.blocks, tf.blocks);
  EXPECT_EQ(Ns().blocks_in_use, 2);
  Append(*f, {7, 8, 9});
  EXPECT_EQ(Ns().cow_copies, 1);
  Append(a, {42});
  EXPECT_EQ(Ns().cow_copies, 1) << "once the fork copied, the source owns its tail alone";
  EXPECT_TRUE(VerifySequence(*mem_, a, layout_, kSalt, Cat(t, {42})));
  EXPECT_TRUE(VerifySequence(*mem_, *f, layout_, kSalt, Cat(t, {7, 8, 9})));
  for (SequenceId s : {a, *f}) ASSERT_TRUE(mem_->Release(s).ok());
}

TEST_F(KvMemoryTest, TruncateRollsBackIntoASealedBlock) {
  Make(16);
  const auto t = Toks(8, 3);
  SequenceId a = Computed(t);
  EXPECT_EQ(mem_->Truncate(a, 9).code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(mem_->Truncate(a, 6).ok());
  EXPECT_EQ(*mem_->Length(a), 6);
  Append(a, {70, 71, 72});
  EXPECT_EQ(Ns().cow_copies, 1) << "the sealed block is shared read-only; its first rows are copied";
  EXPECT_TRUE(VerifySequence(*mem_, a, layout_, kSalt, Cat(Toks(6, 3), {70, 71, 72})));
  SequenceId b = NewSeq();
  EXPECT_EQ(mem_->AttachPrefix(b, t)->matched_tokens, 8) << "the rolled-back block stays cached";
  EXPECT_TRUE(VerifySequence(*mem_, b, layout_, kSalt, t));
  ASSERT_TRUE(mem_->Truncate(b, 0).ok());
  EXPECT_EQ(mem_->GetBlockTable(b)->blocks.size(), 0u);
  for (SequenceId s : {a, b}) ASSERT_TRUE(mem_->Release(s).ok());
}

TEST_F(KvMemoryTest, ConcurrentSealingOfTheSameBlockDedupes) {
  Make(16);
  SequenceId a = NewSeq(), b = NewSeq();
  // Both reserve before either commits: two private copies of the same block.
  ASSERT_TRUE(mem_->Reserve(a, 4).ok());
  ASSERT_TRUE(mem_->Reserve(b, 4).ok());
  EXPECT_EQ(mem_->Stats().used_bytes, 2 * kSlot);
  mem_->Truncate(a, 0).IgnoreError();
  mem_->Truncate(b, 0).IgnoreError();
  Append(a, Toks(4, 5));
  Append(b, Toks(4, 5));
  EXPECT_EQ(Ns().dedupes, 1);
  EXPECT_EQ(mem_->GetBlockTable(a)->blocks[0], mem_->GetBlockTable(b)->blocks[0]);
  EXPECT_EQ(mem_->Stats().used_bytes, kSlot) << "the private copy was freed";
  EXPECT_TRUE(VerifySequence(*mem_, b, layout_, kSalt, Toks(4, 5)));
  for (SequenceId s : {a, b}) ASSERT_TRUE(mem_->Release(s).ok());
}

TEST_F(KvMemoryTest, ConcurrentSealingAfterWritingDedupes) {
  Make(16);
  SequenceId a = NewSeq(), b = NewSeq();
  const auto t = Toks(4, 5);
  const auto ph = testing::PrefixHashes(kSalt, t);
  for (SequenceId s : {a, b}) {
    ASSERT_TRUE(mem_->Reserve(s, 4).ok());
    for (int p = 0; p < 4; ++p) testing::WriteTokenRows(layout_, *mem_->MutableBlock(s, p), p, ph[p], p);
  }
  ASSERT_TRUE(mem_->Commit(a, t).ok());
  ASSERT_TRUE(mem_->Commit(b, t).ok());
  EXPECT_EQ(Ns().dedupes, 1);
  EXPECT_EQ(mem_->Stats().used_bytes, kSlot);
  EXPECT_TRUE(VerifySequence(*mem_, b, layout_, kSalt, t));
  for (SequenceId s : {a, b}) ASSERT_TRUE(mem_->Release(s).ok());
}

// PlanReserve answers what Reserve would do, without doing it: bytes, fits alone, fits counting
// only unpinned cached blocks, fits counting pinned ones too.
TEST_F(KvMemoryTest, PlanReserveForetellsReserve) {
  Make(6);  // blocks of 4 tokens
  EXPECT_EQ(mem_->budget_bytes(), 6 * kSlot);
  EXPECT_EQ(*mem_->BytesForTokens(kNs, 9), 4 * kSlot) << "3 blocks + 1 for a copy-on-write";
  const auto tp = Toks(8, 0), tq = Toks(4, 100);
  SequenceId p = Computed(tp);  // 2 blocks, then cached and pinned
  ASSERT_TRUE(mem_->Release(p).ok());
  ASSERT_EQ(*mem_->PinPrefix("pin", kNs, tp, 0), 8);
  SequenceId q = Computed(tq);  // 1 block, then cached (unpinned)
  ASSERT_TRUE(mem_->Release(q).ok());
  SequenceId h = Computed(Toks(4, 200));  // 1 block held
  // 6 blocks: 1 held, 1 cached, 2 cached+pinned, 2 free.
  SequenceId s = NewSeq();
  ReservePlan a = *mem_->PlanReserve(s, 12);  // 3 blocks: free + the unpinned one
  EXPECT_EQ(a.bytes_needed, 3 * kSlot);
  EXPECT_TRUE(a.fits_alone && a.fits_unpinned && a.fits);
  ReservePlan b = *mem_->PlanReserve(s, 16);  // 4 blocks: needs a pinned one
  EXPECT_TRUE(b.fits_alone && b.fits);
  EXPECT_FALSE(b.fits_unpinned);
  ReservePlan c = *mem_->PlanReserve(s, 24);  // 6 blocks: more than all but the held one
  EXPECT_TRUE(c.fits_alone);
  EXPECT_FALSE(c.fits);
  EXPECT_EQ(mem_->Reserve(s, 24).code(), StatusCode::kResourceExhausted);
  ReservePlan d = *mem_->PlanReserve(s, 28);  // 7 blocks > budget
  EXPECT_FALSE(d.fits_alone);
  EXPECT_EQ(Ns().evictions[0] + Ns().evictions[1], 0) << "planning evicted something";
  ASSERT_TRUE(mem_->Reserve(s, 16).ok()) << "Reserve takes pinned blocks last, as PlanReserve said";
  EXPECT_EQ(mem_->PlanReserve(s, 16)->bytes_needed, 0u) << "already reserved";
  for (SequenceId x : {h, s}) ASSERT_TRUE(mem_->Release(x).ok());
}

TEST_F(KvMemoryTest, NamedPinsAreEvictedLastUnderPressure) {
  Make(4);
  const auto tp = Toks(8, 0), tq = Toks(8, 100);
  SequenceId p = Computed(tp);
  ASSERT_TRUE(mem_->Release(p).ok());
  EXPECT_EQ(*mem_->PinPrefix("system", kNs, tp, 100'000'000'000), 8);
  SequenceId q = Computed(tq);
  ASSERT_TRUE(mem_->Release(q).ok());
  EXPECT_EQ(Ns().blocks_pinned, 2);
  const auto ip = Chain(tp), iq = Chain(tq);
  // P is older, but pinned: Q's blocks go first, then P's (reason recorded).
  SequenceId c = NewSeq();
  ASSERT_TRUE(mem_->Reserve(c, 12).ok());
  EXPECT_EQ(evicted_, (std::vector<BlockId>{iq[1], iq[0], ip[1]}));
  EXPECT_EQ(Ns().evictions[static_cast<int>(EvictionReason::kBudget)], 2);
  EXPECT_EQ(Ns().evictions[static_cast<int>(EvictionReason::kPinnedUnderPressure)], 1);
  auto pins = mem_->ListPins();
  ASSERT_EQ(pins.size(), 1u);
  EXPECT_EQ(pins[0].pinned_tokens, 4) << "the pin lost its evicted block";
  ASSERT_TRUE(mem_->Release(c).ok());
  ASSERT_TRUE(mem_->UnpinPrefix("system").ok());
  EXPECT_EQ(mem_->UnpinPrefix("system").code(), StatusCode::kNotFound);
}

TEST_F(KvMemoryTest, APrefixPinnedBeforeItIsComputedIsKeptOnceSealed) {
  Make(4);
  const auto tp = Toks(8, 0), tq = Toks(8, 100);
  EXPECT_EQ(*mem_->PinPrefix("later", kNs, tp, 0), 0) << "nothing resident yet";
  SequenceId p = Computed(tp);
  ASSERT_TRUE(mem_->Release(p).ok());
  EXPECT_EQ(mem_->ListPins().at(0).pinned_tokens, 8);
  SequenceId q = Computed(tq);
  ASSERT_TRUE(mem_->Release(q).ok());
  mem_->EvictCached(2 * kSlot);
  EXPECT_EQ(evicted_, (std::vector<BlockId>{Chain(tq)[1], Chain(tq)[0]})) << "the pinned prefix outlives newer blocks";
  // Evicted anyway (explicitly): the pin still names it, so a restored copy would be pinned again.
  mem_->EvictCached(kSlot);
  EXPECT_EQ(evicted_.back(), Chain(tp)[1]);
  EXPECT_EQ(Ns().blocks_pinned, 1);
  ASSERT_TRUE(mem_->UnpinPrefix("later").ok());
  EXPECT_EQ(Ns().blocks_pinned, 0);
}

TEST_F(KvMemoryTest, PinsExpireAfterTheirTtl) {
  Make(8);
  const auto tp = Toks(8, 0), tq = Toks(4, 100);
  SequenceId p = Computed(tp);
  ASSERT_TRUE(mem_->Release(p).ok());
  ASSERT_EQ(*mem_->PinPrefix("docs", kNs, tp, 10'000'000'000), 8);  // 10 s
  SequenceId q = Computed(tq);
  ASSERT_TRUE(mem_->Release(q).ok());
  now_ += 9'000'000'000;
  mem_->EvictCached(1);
  EXPECT_EQ(evicted_, (std::vector<BlockId>{Chain(tq)[0]})) << "still pinned at 9 s";
  SequenceId r = Computed(Toks(4, 200));
  ASSERT_TRUE(mem_->Release(r).ok());
  now_ += 2'000'000'000;
  SequenceId s = NewSeq();  // any call notices expired pins
  ASSERT_TRUE(mem_->Reserve(s, 1).ok());
  EXPECT_TRUE(mem_->ListPins().empty());
  EXPECT_EQ(Ns().blocks_pinned, 0);
  evicted_.clear();
  mem_->EvictCached(UINT64_MAX);
  // Expired pins become ordinary cached blocks, as if just used.
  EXPECT_EQ(evicted_, (std::vector<BlockId>{Chain(Toks(4, 200))[0], Chain(tp)[1], Chain(tp)[0]}));
  EXPECT_EQ(Ns().evictions[static_cast<int>(EvictionReason::kExplicit)], 4);
  ASSERT_TRUE(mem_->Release(s).ok());
}

TEST_F(KvMemoryTest, AnIdleModelsBlocksGoFirstAcrossSizes) {
  Make(12);
  // A second model with 3-page blocks shares the same 12-page budget.
  NamespaceOptions big;
  big.id = Hash128{0xB, 0xB};
  big.name = "big";
  big.shape = layout_.shape();
  big.shape.num_layers = 6;  // 6 layers * 2 heads * 4 tokens * 128 B = 6 KiB: an 8 KiB slot
  ASSERT_TRUE(mem_->RegisterNamespace(big).ok());
  // The idle model ran first and finished; the active model keeps running.
  SequenceId old = Computed(Toks(8, 0));
  ASSERT_TRUE(mem_->Release(old).ok());
  const auto idle = Chain(Toks(8, 0));
  SequenceId active = *mem_->CreateSequence(big.id);
  auto big_layout = *mem_->Layout(big.id);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(AppendTokens(*mem_, active, big_layout, kSalt, Toks(4, 100 + 4 * i), false).ok());
  }
  // 2 idle pages + 5 * 2 active pages = 12: the next active block must evict both idle blocks.
  EXPECT_TRUE(evicted_.empty());
  ASSERT_TRUE(AppendTokens(*mem_, active, big_layout, kSalt, Toks(4, 200), false).ok());
  EXPECT_EQ(evicted_, (std::vector<BlockId>{idle[1], idle[0]}));
  const MemoryStats st = mem_->Stats();
  EXPECT_EQ(st.used_bytes, 12 * kSlot);
  ASSERT_EQ(st.namespaces.size(), 2u);
  EXPECT_EQ(st.namespaces[0].name, "big");
  EXPECT_EQ(st.namespaces[0].slot_bytes, 2 * kSlot);
  EXPECT_EQ(st.namespaces[0].blocks_in_use, 6);
  EXPECT_EQ(st.namespaces[1].evictions[0], 2);
  ASSERT_TRUE(mem_->Release(active).ok());
}

TEST_F(KvMemoryTest, BudgetErrorsSayWhatIsNeeded) {
  Make(4);
  SequenceId a = NewSeq();
  Status too_big = mem_->Reserve(a, 17);
  ASSERT_EQ(too_big.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(too_big.message().find("needs 20480 bytes"), std::string::npos) << too_big.message();
  EXPECT_NE(too_big.message().find("budget is 16384 bytes"), std::string::npos) << too_big.message();
  EXPECT_EQ(*mem_->Length(a), 0);
  ASSERT_TRUE(mem_->Reserve(a, 16).ok());
  SequenceId b = NewSeq();
  Status held = mem_->Reserve(b, 1);
  ASSERT_EQ(held.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(held.message().find("held by running sequences"), std::string::npos) << held.message();
  ASSERT_TRUE(mem_->Release(a).ok());
  EXPECT_TRUE(mem_->Reserve(b, 1).ok()) << "reserved-but-unwritten blocks are freed on release";
  ASSERT_TRUE(mem_->Release(b).ok());
}

TEST_F(KvMemoryTest, BudgetPressureEvictsInsteadOfFailing) {
  Make(4);
  for (int i = 0; i < 20; ++i) {
    SequenceId s = Computed(Toks(16, i * 1000));
    ASSERT_TRUE(mem_->Release(s).ok());
  }
  EXPECT_EQ(mem_->Stats().used_bytes, 4 * kSlot);
  EXPECT_EQ(Ns().evictions[0], 19 * 4);
}

TEST_F(KvMemoryTest, HybridMatchReturnsTheStateAtTheLastBoundary) {
  Make(16, {100, 28});
  const auto t = Toks(10, 40);
  SequenceId a = Computed(t);
  ASSERT_TRUE(mem_->Release(a).ok());
  const auto ph = testing::PrefixHashes(kSalt, t);
  SequenceId b = NewSeq();
  auto m = mem_->AttachPrefix(b, Cat(Toks(6, 40), {1, 2, 3}));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->matched_tokens, 4) << "no partial block: state exists only at block boundaries";
  ASSERT_EQ(m->recurrent_state.size(), 128u);
  EXPECT_TRUE(testing::CheckPattern(m->recurrent_state.data(), 128, testing::StateSeed(ph[3])));
  SequenceId c = NewSeq();
  m = mem_->AttachPrefix(c, t);
  EXPECT_EQ(m->matched_tokens, 8);
  EXPECT_TRUE(testing::CheckPattern(m->recurrent_state.data(), 128, testing::StateSeed(ph[7])));
  EXPECT_TRUE(VerifySequence(*mem_, c, layout_, kSalt, Toks(8, 40)));
  for (SequenceId s : {b, c}) ASSERT_TRUE(mem_->Release(s).ok());
}

// A checkpoint in every 3rd block only: blocks 2, 5, ... carry the state (a 8 KiB slot), the
// others their KV alone (4 KiB); matches and truncation roll back to the last checkpoint; the
// eviction hook sees no state for the others, and they are restored without one.
TEST_F(KvMemoryTest, CheckpointIntervalKeepsStateInEveryKthBlockOnly) {
  Make(64, {4096}, 3);
  EXPECT_EQ(Ns().checkpoint_interval_blocks, 3);
  const auto t = Toks(26, 40);  // 6 full blocks + 2 tokens
  const auto ph = testing::PrefixHashes(kSalt, t);
  SequenceId a = Computed(t);
  EXPECT_EQ(Ns().blocks_with_checkpoint, 2);
  EXPECT_EQ(mem_->Stats().used_bytes, 5 * kSlot + 2 * 2 * kSlot) << "blocks 0, 1, 3, 4, 6 hold no state bytes";
  EXPECT_EQ(*mem_->BytesForTokens(kNs, 24), 4 * kSlot + 2 * 2 * kSlot + 2 * kSlot);
  ASSERT_TRUE(mem_->Release(a).ok());

  // 5 cached blocks match; the last checkpoint is block 2: 12 tokens, 8 rolled back.
  SequenceId b = NewSeq();
  auto m = mem_->AttachPrefix(b, std::span<const int32_t>(t).first(22));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->matched_tokens, 12);
  EXPECT_EQ(m->shared_blocks, 3);
  EXPECT_EQ(m->rolled_back_tokens, 8);
  ASSERT_EQ(m->recurrent_state.size(), 4096u);
  EXPECT_TRUE(testing::CheckPattern(m->recurrent_state.data(), 4096, testing::StateSeed(ph[11])));
  // Recomputing blocks 3.. dedupes onto the cached ones (same identity, same policy).
  const int64_t dedupes = Ns().dedupes;
  Append(b, std::vector<int32_t>(t.begin() + 12, t.end()));
  EXPECT_EQ(Ns().dedupes, dedupes + 3);
  EXPECT_TRUE(VerifySequence(*mem_, b, layout_, kSalt, t));
  // Before the first checkpoint nothing can be continued from.
  SequenceId c = NewSeq();
  m = mem_->AttachPrefix(c, std::span<const int32_t>(t).first(11));
  EXPECT_EQ(m->matched_tokens, 0);
  EXPECT_TRUE(m->recurrent_state.empty());
  EXPECT_EQ(m->rolled_back_tokens, 8);
  EXPECT_EQ(Ns().checkpoint_rollback_tokens, 16);
  ASSERT_TRUE(mem_->Release(c).ok());
  // A private block between checkpoints has no checkpoint area; a checkpointed one has it.
  SequenceId d = NewSeq();
  ASSERT_TRUE(mem_->Reserve(d, 12).ok());
  EXPECT_TRUE(mem_->MutableRecurrentState(d, 3)->empty());
  EXPECT_EQ(mem_->MutableRecurrentState(d, 11)->size(), 4096u);
  ASSERT_TRUE(mem_->Release(d).ok());

  // Truncation takes the same roll-back: to 23 tokens -> 12, with block 2's checkpoint.
  auto r = mem_->TruncateToCheckpoint(b, 23);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->matched_tokens, 12);
  EXPECT_EQ(r->rolled_back_tokens, 11);
  EXPECT_TRUE(testing::CheckPattern(r->recurrent_state.data(), r->recurrent_state.size(), testing::StateSeed(ph[11])));
  EXPECT_EQ(*mem_->Length(b), 12);
  r = mem_->TruncateToCheckpoint(b, 11);
  EXPECT_EQ(r->matched_tokens, 0);
  EXPECT_TRUE(r->recurrent_state.empty());
  EXPECT_EQ(mem_->TruncateToCheckpoint(b, 5).status().code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(mem_->Release(b).ok());

  // Tiers see (and store) no state for blocks without a checkpoint, and restore them so.
  struct Saved {
    BlockId parent;
    std::vector<int32_t> tokens;
    std::vector<uint8_t> kv, state;
  };
  std::vector<Saved> saved;
  mem_->SetEvictionHook([&](const SealedBlockView& e) {
    saved.push_back({e.parent, {e.tokens.begin(), e.tokens.end()}, {e.kv_bytes.begin(), e.kv_bytes.end()},
                     {e.recurrent_state.begin(), e.recurrent_state.end()}});
  });
  mem_->EvictCached(UINT64_MAX);
  ASSERT_EQ(saved.size(), 6u);
  std::vector<size_t> state_sizes;
  for (auto it = saved.rbegin(); it != saved.rend(); ++it) state_sizes.push_back(it->state.size());  // head first
  EXPECT_EQ(state_sizes, (std::vector<size_t>{0, 0, 4096, 0, 0, 4096}));
  for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
    auto ins = mem_->InsertSealedBlock(kNs, it->parent, it->tokens, it->kv, it->state);
    ASSERT_TRUE(ins.ok()) << ins.status().ToString();
    EXPECT_TRUE(*ins);
  }
  EXPECT_EQ(mem_->Stats().used_bytes, 4 * kSlot + 2 * 2 * kSlot);
  EXPECT_EQ(mem_->InsertSealedBlock(kNs, {}, Toks(4, 1), saved[0].kv, std::vector<uint8_t>(7)).status().code(),
            StatusCode::kInvalidArgument);
  SequenceId e = NewSeq();
  m = mem_->AttachPrefix(e, t);
  EXPECT_EQ(m->matched_tokens, 24);
  EXPECT_TRUE(testing::CheckPattern(m->recurrent_state.data(), 4096, testing::StateSeed(ph[23])));
  ASSERT_TRUE(mem_->Release(e).ok());
}

TEST_F(KvMemoryTest, CheckpointIntervalIsValidatedAndIgnoredWithoutState) {
  Make(8);
  NamespaceOptions bad;
  bad.id = Hash128{9, 9};
  bad.name = "bad";
  bad.shape = layout_.shape();
  bad.recurrent_bytes_per_layer = {64};
  bad.checkpoint_interval_blocks = 0;
  EXPECT_EQ(mem_->RegisterNamespace(bad).code(), StatusCode::kInvalidArgument);
  NamespaceOptions plain = bad;
  plain.id = Hash128{9, 10};
  plain.recurrent_bytes_per_layer.clear();
  plain.checkpoint_interval_blocks = 4;
  ASSERT_TRUE(mem_->RegisterNamespace(plain).ok());
  for (const NamespaceStats& n : mem_->Stats().namespaces) EXPECT_EQ(n.checkpoint_interval_blocks, 0) << n.name;
  // Without state, TruncateToCheckpoint is Truncate.
  SequenceId a = Computed(Toks(10, 5));
  auto r = mem_->TruncateToCheckpoint(a, 7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->matched_tokens, 7);
  EXPECT_EQ(*mem_->Length(a), 7);
  ASSERT_TRUE(mem_->Release(a).ok());
}

TEST_F(KvMemoryTest, TierSeamsEvictProbeAndRestore) {
  Make(16, {64});
  struct Saved {
    BlockId id, parent;
    std::vector<int32_t> tokens;
    std::vector<uint8_t> kv, state;
    uint64_t layer1_offset;
  };
  std::vector<Saved> saved;
  mem_->SetEvictionHook([&](const SealedBlockView& e) {
    saved.push_back({e.id, e.parent, {e.tokens.begin(), e.tokens.end()}, {e.kv_bytes.begin(), e.kv_bytes.end()},
                     {e.recurrent_state.begin(), e.recurrent_state.end()}, e.layout->LayerRange(1).offset});
    EXPECT_EQ(e.namespace_id, kNs);
  });
  const auto t = Toks(12, 7);
  const auto ids = Chain(t);
  SequenceId a = Computed(t);
  ASSERT_TRUE(mem_->Release(a).ok());
  mem_->EvictCached(UINT64_MAX);
  ASSERT_EQ(saved.size(), 3u);
  EXPECT_EQ(saved[0].id, ids[2]);  // tail first
  EXPECT_EQ(saved[0].parent, ids[1]);
  EXPECT_EQ(saved[2].parent, BlockId{});
  EXPECT_EQ(saved[0].layer1_offset, layout_.layer_bytes());
  auto probe = mem_->ProbePrefix(kNs, t, 8);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->cached_blocks, 0);
  EXPECT_EQ(probe->next_ids, ids);
  // Restore blocks 0 and 1 (saved[2], saved[1]).
  for (int i : {2, 1}) {
    auto r = mem_->InsertSealedBlock(kNs, saved[i].parent, saved[i].tokens, saved[i].kv, saved[i].state);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(*r);
  }
  EXPECT_FALSE(*mem_->InsertSealedBlock(kNs, saved[1].parent, saved[1].tokens, saved[1].kv, saved[1].state));
  probe = mem_->ProbePrefix(kNs, t, 8);
  EXPECT_EQ(probe->cached_blocks, 2);
  EXPECT_EQ(probe->last_cached_id, ids[1]);
  EXPECT_EQ(probe->next_ids, std::vector<BlockId>{ids[2]});
  SequenceId b = NewSeq();
  auto m = mem_->AttachPrefix(b, t);
  EXPECT_EQ(m->matched_tokens, 8);
  EXPECT_TRUE(testing::CheckPattern(m->recurrent_state.data(), 64, testing::StateSeed(testing::PrefixHashes(kSalt, t)[7])));
  EXPECT_TRUE(VerifySequence(*mem_, b, layout_, kSalt, Toks(8, 7)));
  ASSERT_TRUE(mem_->Release(b).ok());
  // A restored chain is evicted tail first, like a released one.
  ASSERT_TRUE(*mem_->InsertSealedBlock(kNs, saved[0].parent, saved[0].tokens, saved[0].kv, saved[0].state));
  mem_->SetEvictionHook([this](const SealedBlockView& e) { evicted_.push_back(e.id); });
  evicted_.clear();
  mem_->EvictCached(UINT64_MAX);
  EXPECT_EQ(evicted_, (std::vector<BlockId>{ids[2], ids[1], ids[0]}));
  auto bad = mem_->InsertSealedBlock(kNs, {}, Toks(3, 0), saved[0].kv, saved[0].state);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

// A pure recurrent model (mamba2): blocks hold only the checkpoint. Everything of the block
// lifecycle works on them — sharing, matching at block ends with the last block's state, the
// eviction hook (no KV bytes), restore — and a block takes only its state's bytes from the budget.
TEST_F(KvMemoryTest, StateOnlyNamespaceKeepsCheckpointsWithoutKv) {
  state_only_ = true;
  Make(16, {3000, 1000});
  EXPECT_EQ(layout_.block_bytes(), 0u);
  EXPECT_EQ(Ns().slot_bytes, kSlot) << "4000 state bytes round up to one page, no KV bytes";
  auto per_block = mem_->BytesForTokens(kNs, 8);
  ASSERT_TRUE(per_block.ok());
  EXPECT_EQ(*per_block, 3 * kSlot) << "two blocks and one copy-on-write slot";
  std::vector<std::vector<uint8_t>> states;
  std::vector<BlockId> parents;
  std::vector<std::vector<int32_t>> tokens;
  mem_->SetEvictionHook([&](const SealedBlockView& e) {
    EXPECT_TRUE(e.kv_bytes.empty());
    EXPECT_EQ(e.recurrent_state.size(), 4000u);
    states.emplace_back(e.recurrent_state.begin(), e.recurrent_state.end());
    parents.push_back(e.parent);
    tokens.emplace_back(e.tokens.begin(), e.tokens.end());
  });
  const auto t = Toks(10, 50);
  const auto ph = testing::PrefixHashes(kSalt, t);
  SequenceId a = Computed(t);
  SequenceId b = NewSeq();
  auto m = mem_->AttachPrefix(b, Toks(7, 50));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->matched_tokens, 4);
  EXPECT_EQ(m->partial_tokens, 0);
  ASSERT_EQ(m->recurrent_state.size(), 4000u);
  EXPECT_TRUE(testing::CheckPattern(m->recurrent_state.data(), 4000, testing::StateSeed(ph[3])));
  EXPECT_EQ(mem_->GetBlockTable(b)->blocks[0], mem_->GetBlockTable(a)->blocks[0]) << "shared, not copied";
  for (SequenceId s : {a, b}) ASSERT_TRUE(mem_->Release(s).ok());
  mem_->EvictCached(UINT64_MAX);
  ASSERT_EQ(states.size(), 2u);
  // Restored (as the tiers do after a restart) with no KV bytes, the state matches again.
  for (int i : {1, 0}) ASSERT_TRUE(*mem_->InsertSealedBlock(kNs, parents[i], tokens[i], {}, states[i]));
  SequenceId c = NewSeq();
  m = mem_->AttachPrefix(c, t);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->matched_tokens, 8);
  EXPECT_TRUE(testing::CheckPattern(m->recurrent_state.data(), 4000, testing::StateSeed(ph[7])));
  ASSERT_TRUE(mem_->Release(c).ok());
  // A restored block with KV bytes does not fit the namespace.
  std::vector<uint8_t> kv(16);
  EXPECT_EQ(mem_->InsertSealedBlock(kNs, {}, Toks(4, 900), kv, states[0]).status().code(), StatusCode::kInvalidArgument);
  // Neither KV nor state: nothing to store, refused.
  NamespaceOptions empty;
  empty.id = Hash128{5, 6};
  empty.name = "empty";
  empty.shape.num_layers = 0;
  empty.shape.block_tokens = 4;
  const Status st = mem_->RegisterNamespace(empty);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("neither KV layers nor recurrent state"), std::string::npos) << st.ToString();
}

// The idle write-through's seams: the seal hook names each newly sealed identity once (not a
// dedupe, not a restore), and VisitSealedBlock copies a resident block out whether a sequence
// holds it or not, without disturbing refcounts or the eviction order.
TEST_F(KvMemoryTest, SealHookAndVisitSealedBlockServeWriteThrough) {
  Make(16, {64});
  std::vector<BlockId> sealed;
  mem_->SetSealHook([&](const Hash128& ns, const BlockId& id) {
    EXPECT_EQ(ns, kNs);
    sealed.push_back(id);
  });
  const auto t = Toks(10, 300);
  const auto ids = Chain(t);
  SequenceId a = Computed(t);
  EXPECT_EQ(sealed, (std::vector<BlockId>{ids[0], ids[1]})) << "the partial tail is not sealed";
  SequenceId b = Computed(Toks(8, 300));  // the same two blocks, computed again: dedupes
  EXPECT_EQ(sealed.size(), 2u) << "a dedupe is not a new block";

  // Held by sequences: copied outside the lock under a transient hold.
  std::vector<uint8_t> kv, state;
  std::vector<int32_t> tokens;
  BlockId parent{1, 1};
  auto copy = [&](const SealedBlockView& e) {
    kv.assign(e.kv_bytes.begin(), e.kv_bytes.end());
    state.assign(e.recurrent_state.begin(), e.recurrent_state.end());
    tokens.assign(e.tokens.begin(), e.tokens.end());
    parent = e.parent;
  };
  bool checked = false;
  auto copy_and_check = [&](const SealedBlockView& e) {  // runs outside the lock for a held block
    copy(e);
    EXPECT_TRUE(mem_->CheckInvariants().ok()) << "a transient hold is a counted holder";
    checked = true;
  };
  auto v = mem_->VisitSealedBlock(kNs, ids[1], copy_and_check);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(*v);
  EXPECT_TRUE(checked);
  EXPECT_EQ(parent, ids[0]);
  EXPECT_EQ(tokens, Toks(4, 304));
  const auto table = *mem_->GetBlockTable(a);
  EXPECT_TRUE(std::equal(kv.begin(), kv.end(), table.blocks[1]));
  EXPECT_EQ(state.size(), 64u);
  ASSERT_TRUE(mem_->Release(b).ok());
  ASSERT_TRUE(mem_->Release(a).ok());

  // Cached (refcount 0): visited in place, under the lock (the visitor must not call back into
  // KvMemory); the eviction order (tail first) is unchanged.
  ASSERT_TRUE(*mem_->VisitSealedBlock(kNs, ids[0], copy));
  EXPECT_EQ(parent, BlockId{});
  EXPECT_FALSE(*mem_->VisitSealedBlock(kNs, BlockId{9, 9}, copy)) << "not resident";
  EXPECT_EQ(mem_->VisitSealedBlock(Hash128{5, 5}, ids[0], copy).status().code(), StatusCode::kNotFound);
  mem_->EvictCached(UINT64_MAX);
  EXPECT_EQ(evicted_, (std::vector<BlockId>{ids[1], ids[0]}));
  EXPECT_FALSE(*mem_->VisitSealedBlock(kNs, ids[0], copy)) << "evicted";
  // A restored block is not announced: it came from the tiers.
  ASSERT_TRUE(*mem_->InsertSealedBlock(kNs, {}, Toks(4, 300), std::vector<uint8_t>(layout_.block_bytes(), 0),
                                       std::vector<uint8_t>(64, 0)));
  EXPECT_EQ(sealed.size(), 2u);
  mem_->SetSealHook(nullptr);
}

// The shutdown flush's order: pinned blocks first, then the most recently used.
TEST_F(KvMemoryTest, EvictCachedMostValuableFirstTakesPinnedThenNewest) {
  Make(16);
  const auto ta = Toks(8, 0), tb = Toks(8, 500), tp = Toks(4, 900);
  SequenceId a = Computed(ta);
  ASSERT_TRUE(mem_->Release(a).ok());
  SequenceId p = Computed(tp);
  ASSERT_TRUE(mem_->PinPrefix("sys", kNs, tp, 0).ok());
  ASSERT_TRUE(mem_->Release(p).ok());
  SequenceId b = Computed(tb);
  ASSERT_TRUE(mem_->Release(b).ok());
  // LRU front to back: A1 A0 B1 B0; pinned: P0.
  const auto ia = Chain(ta), ib = Chain(tb), ip = Chain(tp);
  EXPECT_EQ(mem_->EvictCached(3 * kSlot, KvMemory::EvictOrder::kMostValuableFirst), 3 * kSlot);
  EXPECT_EQ(evicted_, (std::vector<BlockId>{ip[0], ib[0], ib[1]}));
  evicted_.clear();
  mem_->EvictCached(UINT64_MAX, KvMemory::EvictOrder::kMostValuableFirst);
  EXPECT_EQ(evicted_, (std::vector<BlockId>{ia[0], ia[1]}));
}

TEST_F(KvMemoryTest, WithoutPrefixMatchingEveryTokenIsComputed) {
  prefix_matching_ = false;
  Make(16);
  const auto t = Toks(10, 3);
  SequenceId a = Computed(t);
  ASSERT_TRUE(mem_->Release(a).ok());
  EXPECT_EQ(Ns().blocks_cached, 2);  // sealed blocks are still cached (and evictable to the tiers)
  // Nothing matches, not even whole cached blocks or a partial one; nothing is offered to restore.
  SequenceId b = NewSeq();
  auto m = mem_->AttachPrefix(b, t);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->matched_tokens, 0);
  EXPECT_EQ(m->shared_blocks, 0);
  EXPECT_EQ(m->partial_tokens, 0);
  auto probe = mem_->ProbePrefix(kNs, t, 8);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ(probe->cached_blocks, 0);
  EXPECT_TRUE(probe->next_ids.empty());
  // The sequence computes everything; the result is the same KV as from scratch.
  Append(b, t);
  EXPECT_TRUE(VerifySequence(*mem_, b, layout_, kSalt, t));
  EXPECT_EQ(Ns().prefix_tokens_hit, 0);
  EXPECT_EQ(Ns().prefix_tokens_computed, 20);
  ASSERT_TRUE(mem_->Release(b).ok());
}

TEST_F(KvMemoryTest, ZeroCopySharingHoldsOnePrefixPlusTails) {
  Make(256);
  const auto prefix = Toks(64, 0);  // 16 blocks
  SequenceId first = Computed(prefix);
  std::vector<SequenceId> seqs;
  constexpr int kN = 8;
  for (int i = 0; i < kN; ++i) {
    SequenceId s = NewSeq();
    ASSERT_EQ(mem_->AttachPrefix(s, prefix)->matched_tokens, 64);
    Append(s, Toks(6, 1000 * (i + 1)));  // one full block + a partial one each
    seqs.push_back(s);
  }
  ASSERT_TRUE(mem_->Release(first).ok());
  EXPECT_EQ(mem_->Stats().used_bytes, (16 + kN * 2) * kSlot);
  EXPECT_EQ(Ns().bytes_in_use, (16 + kN * 2) * kSlot);
  for (int i = 0; i < kN; ++i) {
    EXPECT_TRUE(VerifySequence(*mem_, seqs[i], layout_, kSalt, Cat(prefix, Toks(6, 1000 * (i + 1)))));
    ASSERT_TRUE(mem_->Release(seqs[i]).ok());
  }
}

TEST_F(KvMemoryTest, BadCallsGetClearErrors) {
  Make(8);
  EXPECT_EQ(mem_->CreateSequence(Hash128{5, 5}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(mem_->Reserve(12345, 1).code(), StatusCode::kNotFound);
  SequenceId a = NewSeq();
  EXPECT_EQ(mem_->Commit(a, Toks(1, 0)).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(mem_->Reserve(a, -1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(mem_->MutableBlock(a, 0).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(mem_->MutableRecurrentState(a, 0).status().code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(mem_->Reserve(a, 1).ok());
  EXPECT_EQ(mem_->MutableRecurrentState(a, 0).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(mem_->Commit(a, Toks(1, 0)).ok());
  EXPECT_EQ(mem_->AttachPrefix(a, Toks(4, 0)).status().code(), StatusCode::kFailedPrecondition);
  NamespaceOptions other;
  other.id = kNs;
  other.shape = layout_.shape();
  other.shape.block_tokens = 8;
  EXPECT_EQ(mem_->RegisterNamespace(other).code(), StatusCode::kInvalidArgument);
  other.shape.block_tokens = 4;
  EXPECT_TRUE(mem_->RegisterNamespace(other).ok()) << "registering the same namespace again is fine";
  other.id = Hash128{3, 3};
  other.shape.num_layers = 100000;
  EXPECT_EQ(mem_->RegisterNamespace(other).code(), StatusCode::kInvalidArgument);
  other.shape.num_layers = 64;
  other.shape.head_dim_k = other.shape.head_dim_v = 4096;
  Status huge = mem_->RegisterNamespace(other);
  EXPECT_EQ(huge.code(), StatusCode::kInvalidArgument) << "a block larger than the budget";
  EXPECT_EQ(mem_->PinPrefix("", kNs, Toks(4, 0), 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(mem_->Release(a).code(), StatusCode::kOk);
  EXPECT_EQ(mem_->Release(a).code(), StatusCode::kNotFound);
}

TEST_F(KvMemoryTest, SequenceHandleReleasesOnScopeExit) {
  Make(8);
  {
    auto h = SequenceHandle::Create(mem_.get(), kNs);
    ASSERT_TRUE(h.ok());
    Append(h->id(), Toks(6, 0));
    SequenceHandle moved = std::move(*h);
    EXPECT_FALSE(h->valid());
    EXPECT_TRUE(moved.valid());
    EXPECT_EQ(Ns().sequences, 1);
  }
  EXPECT_EQ(Ns().sequences, 0);
  EXPECT_EQ(Ns().blocks_in_use, 0);
  EXPECT_EQ(Ns().blocks_cached, 1) << "the sealed block stays cached; the private tail is freed";
}

TEST(KvMemoryCreateTest, NeedsABudget) {
  EXPECT_EQ(KvMemory::Create(KvMemoryOptions{}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace swarmkv
