#include "memory/block_id.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace swarmkv {
namespace {

TEST(BlockIdTest, HashesNamespaceParentAndLittleEndianTokens) {
  const Hash128 ns{0x0123456789abcdefull, 0xfedcba9876543210ull};
  const Hash128 parent{0x1111ull, 0x2222ull};
  std::vector<int32_t> tokens(32);
  std::iota(tokens.begin(), tokens.end(), -5);
  // The documented byte string, built independently.
  std::vector<uint8_t> bytes;
  auto put = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put(ns.lo, 8);
  put(ns.hi, 8);
  put(parent.lo, 8);
  put(parent.hi, 8);
  for (int32_t t : tokens) put(static_cast<uint32_t>(t), 4);
  EXPECT_EQ(ComputeBlockId(ns, parent, tokens), HashBytes(bytes.data(), bytes.size(), 0));
}

TEST(BlockIdTest, GoldenValueIsStable) {
  // Keys disk and Redis entries: changing this value orphans every stored block.
  const Hash128 ns{1, 2};
  std::vector<int32_t> tokens(32);
  std::iota(tokens.begin(), tokens.end(), 0);
  EXPECT_EQ(ComputeBlockId(ns, Hash128{}, tokens).ToHex(), "60e6e8e527b6302866779546b24729b1");
}

TEST(BlockIdTest, EveryInputChangesTheIdentity) {
  const Hash128 ns{1, 2};
  std::vector<int32_t> a(32, 7), b = a;
  b[31] = 8;
  const BlockId base = ComputeBlockId(ns, {}, a);
  EXPECT_NE(base, ComputeBlockId(ns, {}, b));
  EXPECT_NE(base, ComputeBlockId(Hash128{1, 3}, {}, a));
  EXPECT_NE(base, ComputeBlockId(ns, Hash128{0, 1}, a));
}

TEST(BlockIdTest, ChainLinksEachBlockToItsParent) {
  const Hash128 ns{9, 9};
  std::vector<int32_t> tokens(100);
  std::iota(tokens.begin(), tokens.end(), 1000);
  const std::vector<BlockId> chain = ComputeBlockChain(ns, tokens, 32);
  ASSERT_EQ(chain.size(), 3u);  // 100 tokens: three full blocks
  BlockId parent;
  for (size_t i = 0; i < chain.size(); ++i) {
    EXPECT_EQ(chain[i], ComputeBlockId(ns, parent, std::span<const int32_t>(tokens).subspan(i * 32, 32)));
    parent = chain[i];
  }
  // Same block tokens after a different prefix: a different identity.
  std::vector<int32_t> other = tokens;
  other[0] = 1;
  EXPECT_NE(ComputeBlockChain(ns, other, 32)[1], chain[1]);
}

}  // namespace
}  // namespace swarmkv
