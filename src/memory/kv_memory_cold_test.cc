// KvMemory::MakeBlockCold (context beyond RAM): a running sequence's private sealed block leaves
// RAM after the caller stored its exact bytes, the budget gets its slot back, the sequence keeps
// running past what the budget holds; shared and pinned blocks stay resident; cold blocks are
// never matched, cached, forked or truncated into.
#include <gtest/gtest.h>

#include <map>

#include "memory/kv_memory.h"
#include "memory/kv_test_util.h"

namespace swarmkv {
namespace {

using swarmkv::testing::AppendTokens;
using swarmkv::testing::CheckTokenRows;
using swarmkv::testing::PrefixHashes;

const Hash128 kNs = HashBytes("cold-ns");
constexpr uint64_t kSalt = 99;

class ColdBlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KvMemoryOptions o;
    o.budget_bytes = 6 * 4096;  // six 4 KiB slots (2 KiB blocks)
    o.retain_free_bytes = 0;
    mem_ = KvMemory::Create(o).value();
    NamespaceOptions ns;
    ns.id = kNs;
    ns.name = "cold";
    ns.shape.num_layers = 2;
    ns.shape.num_kv_heads = 2;
    ns.shape.head_dim_k = 32;
    ns.shape.head_dim_v = 32;
    ns.shape.block_tokens = 4;
    ASSERT_TRUE(mem_->RegisterNamespace(ns).ok());
    layout_ = mem_->Layout(kNs).value();
  }
  void TearDown() override { EXPECT_TRUE(mem_->CheckInvariants().ok()) << mem_->CheckInvariants().ToString(); }
  std::vector<int32_t> Tokens(int n, int base) {
    std::vector<int32_t> t;
    for (int i = 0; i < n; ++i) t.push_back(base + i);
    return t;
  }
  // Makes every full block of `seq` older than its last `keep` blocks cold, storing the bytes.
  int Spill(SequenceId seq, int keep) {
    const int64_t full = mem_->Length(seq).value() / 4;
    int made = 0;
    for (int64_t b = 0; b + keep < full; ++b) {
      Result<bool> r = mem_->MakeBlockCold(seq, b, [&](std::span<const uint8_t> bytes) {
        store_[{seq, b}].assign(bytes.begin(), bytes.end());
        return Status::OK();
      });
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      made += r.ok() && *r;
    }
    return made;
  }
  std::unique_ptr<KvMemory> mem_;
  KvLayout layout_;
  std::map<std::pair<SequenceId, int64_t>, std::vector<uint8_t>> store_;
};

TEST_F(ColdBlockTest, ASequenceRunsPastTheBudgetWithItsOldBlocksCold) {
  const SequenceId s = mem_->CreateSequence(kNs).value();
  std::vector<int32_t> all;
  for (int round = 0; round < 10; ++round) {  // 40 tokens = 10 blocks in a 6-block budget
    const std::vector<int32_t> t = Tokens(4, 100 + 4 * round);
    ASSERT_TRUE(AppendTokens(*mem_, s, layout_, kSalt, t, false).ok()) << "round " << round;
    all.insert(all.end(), t.begin(), t.end());
    Spill(s, 2);
    ASSERT_TRUE(mem_->CheckInvariants().ok()) << mem_->CheckInvariants().ToString();
  }
  EXPECT_EQ(mem_->Length(s).value(), 40);
  EXPECT_LE(mem_->Stats().used_bytes, 3u * 4096) << "cold blocks still hold their slots";
  const BlockTable table = mem_->GetBlockTable(s).value();
  ASSERT_EQ(table.blocks.size(), 10u);
  for (int b = 0; b < 8; ++b) EXPECT_EQ(table.blocks[b], nullptr) << "block " << b;
  // The stored bytes are exactly the rows the sequence wrote.
  const std::vector<uint64_t> ph = PrefixHashes(kSalt, all);
  for (int64_t b = 0; b < 8; ++b) {
    const std::vector<uint8_t>& bytes = store_.at({s, b});
    ASSERT_EQ(bytes.size(), layout_.block_bytes());
    for (int slot = 0; slot < 4; ++slot)
      EXPECT_TRUE(CheckTokenRows(layout_, bytes.data(), slot, ph[b * 4 + slot], b * 4 + slot)) << "block " << b;
  }
  // Cold blocks are not matched: a new sequence with the same prompt attaches nothing cold.
  const SequenceId t = mem_->CreateSequence(kNs).value();
  EXPECT_EQ(mem_->AttachPrefix(t, all).value().matched_tokens, 0);
  EXPECT_EQ(mem_->Fork(s).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(mem_->Truncate(s, 6).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(mem_->Truncate(s, 36).ok());  // into the hot part
  ASSERT_TRUE(mem_->Release(s).ok());
  ASSERT_TRUE(mem_->Release(t).ok());
  EXPECT_EQ(mem_->Stats().used_bytes, 2u * 4096) << "cold blocks must be freed, the two hot sealed ones cached";
}

TEST_F(ColdBlockTest, SharedBlocksStayHotAndAFailedStoreChangesNothing) {
  const SequenceId a = mem_->CreateSequence(kNs).value();
  ASSERT_TRUE(AppendTokens(*mem_, a, layout_, kSalt, Tokens(12, 1), false).ok());
  const SequenceId b = mem_->CreateSequence(kNs).value();
  EXPECT_EQ(mem_->AttachPrefix(b, Tokens(8, 1)).value().matched_tokens, 8);  // shares a's blocks 0 and 1
  int calls = 0;
  auto store = [&](std::span<const uint8_t>) {
    ++calls;
    return Status::OK();
  };
  EXPECT_FALSE(mem_->MakeBlockCold(a, 0, store).value()) << "a shared block went cold";
  EXPECT_EQ(calls, 0);
  auto failing = [](std::span<const uint8_t>) { return IOError("disk full"); };
  EXPECT_EQ(mem_->MakeBlockCold(a, 2, failing).status().code(), StatusCode::kIOError);
  EXPECT_NE(mem_->GetBlockTable(a).value().blocks[2], nullptr);
  EXPECT_TRUE(mem_->MakeBlockCold(a, 2, store).value());
  EXPECT_FALSE(mem_->MakeBlockCold(a, 2, store).value()) << "already cold";
  EXPECT_EQ(mem_->MakeBlockCold(a, 3, store).status().code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(mem_->Release(b).ok());
  EXPECT_TRUE(mem_->MakeBlockCold(a, 0, store).value()) << "no longer shared";
  ASSERT_TRUE(mem_->Release(a).ok());
}

}  // namespace
}  // namespace swarmkv
