// Property-based test of KvMemory: long random operation sequences (create + match, append,
// fork, truncate, release, pin/unpin with a moving clock, explicit eviction, restore of evicted
// blocks) over three namespaces with different shapes (one hybrid) under a budget tight enough
// that eviction and "cannot fit" happen all the time. After every step:
//   - CheckInvariants() holds;
//   - every live sequence holds exactly the tokens of a plain reference model (a vector per
//     sequence), and every K/V row it can see holds the bytes its own token prefix produced
//     (kv_test_util.h), which catches any wrong sharing, stale copy or early free;
//   - a match is a prefix of the prompt and at least as long as what live sequences guarantee
//     is cached (their sealed blocks cannot be evicted).
// SWARMKV_PROPERTY_STEPS / SWARMKV_PROPERTY_SEEDS make the run longer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>

#include "memory/kv_memory.h"
#include "memory/kv_test_util.h"

namespace swarmkv {
namespace {

using testing::AppendTokens;
using testing::VerifySequence;

struct NsSpec {
  Hash128 id;
  KvShape shape;
  std::vector<uint64_t> state;
  uint64_t salt;
  int32_t checkpoint_interval = 1;  // hybrid: a checkpoint in every k-th block only
};


int EnvInt(const char* name, int def) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : def;
}

class PropertyRun {
 public:
  explicit PropertyRun(uint64_t seed) : rng_(seed) {
    // The hybrid namespace checkpoints every block, every 2nd or every 3rd, by seed.
    specs_ = {
        {Hash128{1, 10}, testing::TestKvShape(2, 2, 32, 32, 4, TensorType::kF16, TensorType::kF16), {}, 1001},
        {Hash128{2, 20}, testing::TestKvShape(4, 2, 64, 32, 8, TensorType::kQ8_0, TensorType::kF16), {}, 2002},
        {Hash128{3, 30}, testing::TestKvShape(3, 4, 32, 32, 16, TensorType::kQ4_0, TensorType::kQ4_0), {64, 200}, 3003,
         static_cast<int32_t>(1 + seed % 3)},
    };
  }

  void Run(int steps) {
    KvMemoryOptions o;
    o.budget_bytes = 48 * 4096;
    o.retain_free_bytes = seed_bit() ? 0 : 8 * 4096;
    o.clock_nanos = [this] { return now_; };
    auto m = KvMemory::Create(std::move(o));
    ASSERT_TRUE(m.ok());
    mem_ = std::move(*m);
    for (const NsSpec& s : specs_) {
      NamespaceOptions n;
      n.id = s.id;
      n.name = "ns" + std::to_string(s.salt);
      n.shape = s.shape;
      n.recurrent_bytes_per_layer = s.state;
      n.checkpoint_interval_blocks = s.checkpoint_interval;
      ASSERT_TRUE(mem_->RegisterNamespace(n).ok());
      layouts_.push_back(*mem_->Layout(s.id));
    }
    mem_->SetEvictionHook([this](const SealedBlockView& e) {
      Evicted v{NsIndex(e.namespace_id), e.parent, {e.tokens.begin(), e.tokens.end()},
                {e.kv_bytes.begin(), e.kv_bytes.end()}, {e.recurrent_state.begin(), e.recurrent_state.end()}};
      if (evicted_.size() >= 32) evicted_.erase(evicted_.begin());
      evicted_.push_back(std::move(v));
    });
    for (step_ = 0; step_ < steps && !::testing::Test::HasFailure(); ++step_) {
      Step();
      Check();
    }
    for (auto& [id, r] : seqs_) ASSERT_TRUE(mem_->Release(id).ok());
    seqs_.clear();
    Check();
    mem_.reset();
  }

 private:
  struct Ref {
    int ns;
    std::vector<int32_t> tokens;
  };
  struct Evicted {
    int ns;
    BlockId parent;
    std::vector<int32_t> tokens;
    std::vector<uint8_t> kv, state;
  };

  bool seed_bit() { return rng_() & 1; }
  int Rand(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  int NsIndex(const Hash128& id) const {
    for (size_t i = 0; i < specs_.size(); ++i)
      if (specs_[i].id == id) return static_cast<int>(i);
    return -1;
  }
  // Prompts share prefixes a lot: a few stems plus a random tail over a tiny alphabet.
  std::vector<int32_t> Prompt(int ns) {
    std::vector<int32_t> p;
    const int stem = Rand(0, 3);
    const int stem_len = Rand(0, 40);
    for (int i = 0; i < stem_len; ++i) p.push_back(stem * 100 + i);
    const int tail = Rand(0, 12);
    for (int i = 0; i < tail; ++i) p.push_back(Rand(0, 3));
    return p;
  }
  std::vector<int32_t> Fresh(int n) {
    std::vector<int32_t> t;
    for (int i = 0; i < n; ++i) t.push_back(Rand(0, 5));
    return t;
  }
  SequenceId PickSeq() {
    auto it = seqs_.begin();
    std::advance(it, Rand(0, static_cast<int>(seqs_.size()) - 1));
    return it->first;
  }
  std::string Where() const { return "seed step " + std::to_string(step_) + " op " + op_ + "\n" + mem_->DebugString(); }

  // Tokens that live sequences guarantee are matchable (their sealed blocks are held).
  int64_t GuaranteedMatch(int ns, const std::vector<int32_t>& prompt) const {
    const int64_t b = specs_[ns].shape.block_tokens;
    int64_t best = 0;
    for (const auto& [id, r] : seqs_) {
      if (r.ns != ns) continue;
      int64_t lcp = 0;
      while (lcp < static_cast<int64_t>(std::min(prompt.size(), r.tokens.size())) && prompt[lcp] == r.tokens[lcp]) ++lcp;
      int64_t sealed = static_cast<int64_t>(r.tokens.size()) / b * b;
      int64_t g = std::min(lcp, sealed);
      if (!specs_[ns].state.empty() || g == sealed) g = g / b * b;  // partial only inside a sealed block
      // Hybrid: only up to the last checkpointed block.
      if (!specs_[ns].state.empty()) g = g / (b * specs_[ns].checkpoint_interval) * (b * specs_[ns].checkpoint_interval);
      best = std::max(best, g);
    }
    return best;
  }

  void Step() {
    const int r = Rand(0, 99);
    if (seqs_.empty() || (r < 20 && seqs_.size() < 10)) {
      op_ = "create+attach";
      const int ns = Rand(0, 2);
      auto id = mem_->CreateSequence(specs_[ns].id);
      ASSERT_TRUE(id.ok());
      std::vector<int32_t> prompt = Prompt(ns);
      const int64_t guaranteed = GuaranteedMatch(ns, prompt);
      auto m = mem_->AttachPrefix(*id, prompt);
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      ASSERT_LE(m->matched_tokens, static_cast<int64_t>(prompt.size()));
      ASSERT_GE(m->matched_tokens, guaranteed) << Where();
      const int64_t b = specs_[ns].shape.block_tokens;
      ASSERT_EQ(m->shared_blocks * b + m->partial_tokens, m->matched_tokens);
      if (!specs_[ns].state.empty() && m->shared_blocks > 0) {
        const auto ph = testing::PrefixHashes(specs_[ns].salt, prompt);
        ASSERT_TRUE(testing::CheckPattern(m->recurrent_state.data(), m->recurrent_state.size(),
                                          testing::StateSeed(ph[m->matched_tokens - 1])))
            << "recurrent checkpoint of the wrong prefix " << Where();
      }
      seqs_[*id] = Ref{ns, std::vector<int32_t>(prompt.begin(), prompt.begin() + m->matched_tokens)};
      // Compute the rest of the prompt, like the engine would.
      std::vector<int32_t> rest(prompt.begin() + m->matched_tokens, prompt.end());
      AppendOrFail(*id, rest);
    } else if (r < 55) {
      op_ = "append";
      SequenceId id = PickSeq();
      if (seqs_[id].tokens.size() > 90) return;
      AppendOrFail(id, Fresh(Rand(1, 2 * specs_[seqs_[id].ns].shape.block_tokens)));
    } else if (r < 63 && seqs_.size() < 10) {
      op_ = "fork";
      SequenceId id = PickSeq();
      auto f = mem_->Fork(id);
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      seqs_[*f] = seqs_[id];
    } else if (r < 72) {
      op_ = "truncate";
      SequenceId id = PickSeq();
      const int n = Rand(0, static_cast<int>(seqs_[id].tokens.size()));
      ASSERT_TRUE(mem_->Truncate(id, n).ok());
      seqs_[id].tokens.resize(static_cast<size_t>(n));
    } else if (r < 84) {
      op_ = "release";
      SequenceId id = PickSeq();
      ASSERT_TRUE(mem_->Release(id).ok());
      seqs_.erase(id);
    } else if (r < 89) {
      op_ = "pin";
      SequenceId id = PickSeq();
      auto p = mem_->PinPrefix("pin" + std::to_string(Rand(0, 2)), specs_[seqs_[id].ns].id, seqs_[id].tokens,
                               Rand(0, 1) ? 0 : Rand(1, 5) * 1'000'000'000ll);
      ASSERT_TRUE(p.ok());
      const int64_t b = specs_[seqs_[id].ns].shape.block_tokens;
      ASSERT_EQ(*p, static_cast<int64_t>(seqs_[id].tokens.size()) / b * b) << "a live sequence's sealed blocks are cached";
    } else if (r < 91) {
      op_ = "unpin";
      mem_->UnpinPrefix("pin" + std::to_string(Rand(0, 2))).IgnoreError();
    } else if (r < 94) {
      op_ = "clock";
      now_ += Rand(0, 3) * 1'000'000'000ll;
    } else if (r < 96) {
      op_ = "evict";
      mem_->EvictCached(static_cast<uint64_t>(Rand(0, 8)) * 4096);
    } else {
      op_ = "restore";
      if (evicted_.empty()) return;
      // A copy: making room evicts, and the hook rotates evicted_.
      const Evicted e = evicted_[static_cast<size_t>(Rand(0, static_cast<int>(evicted_.size()) - 1))];
      auto ins = mem_->InsertSealedBlock(specs_[e.ns].id, e.parent, e.tokens, e.kv, e.state);
      ASSERT_TRUE(ins.ok() || ins.status().code() == StatusCode::kResourceExhausted) << ins.status().ToString();
    }
  }

  void AppendOrFail(SequenceId id, const std::vector<int32_t>& t) {
    if (t.empty()) return;
    Ref& r = seqs_[id];
    const NsSpec& s = specs_[r.ns];
    Status st = AppendTokens(*mem_, id, layouts_[r.ns], s.salt, t, !s.state.empty());
    if (st.ok()) {
      r.tokens.insert(r.tokens.end(), t.begin(), t.end());
      return;
    }
    ASSERT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString() << Where();
    ++exhausted_;
  }

  void Check() {
    Status inv = mem_->CheckInvariants();
    ASSERT_TRUE(inv.ok()) << inv.ToString() << "\n" << Where();
    for (const auto& [id, r] : seqs_) {
      ASSERT_TRUE(VerifySequence(*mem_, id, layouts_[r.ns], specs_[r.ns].salt, r.tokens)) << Where();
    }
    const MemoryStats st = mem_->Stats();
    ASSERT_LE(st.used_bytes, st.budget_bytes);
  }

  std::mt19937_64 rng_;
  std::vector<NsSpec> specs_;
  std::vector<KvLayout> layouts_;
  std::unique_ptr<KvMemory> mem_;
  std::map<SequenceId, Ref> seqs_;
  std::vector<Evicted> evicted_;
  int64_t now_ = 0;
  int step_ = 0;
  std::string op_;

 public:
  int exhausted_ = 0;
};

TEST(KvMemoryPropertyTest, RandomOperationsMatchTheReferenceModel) {
  const int seeds = EnvInt("SWARMKV_PROPERTY_SEEDS", 10);
  const int steps = EnvInt("SWARMKV_PROPERTY_STEPS", 300);
  int exhausted = 0;
  for (int seed = 1; seed <= seeds && !HasFailure(); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    PropertyRun run(static_cast<uint64_t>(seed));
    run.Run(steps);
    exhausted += run.exhausted_;
  }
  // The budget is meant to be tight: some appends must have hit it.
  EXPECT_GT(exhausted, 0);
}

}  // namespace
}  // namespace swarmkv
