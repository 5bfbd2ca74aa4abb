#include "memory/kv_layout.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "memory/kv_test_util.h"

namespace swarmkv {
namespace {

using testing::TestKvShape;

TEST(KvLayoutTest, OffsetsFollowTheConventionsLayout) {
  auto l = KvLayout::Create(TestKvShape(3, 2, 64, 32, 4));
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->k_row_bytes(), 128u);
  EXPECT_EQ(l->v_row_bytes(), 64u);
  // layer = K(h0) K(h1) V(h0) V(h1): 2*4*128 + 2*4*64.
  EXPECT_EQ(l->layer_bytes(), 2u * 4 * 128 + 2u * 4 * 64);
  EXPECT_EQ(l->block_bytes(), 3 * l->layer_bytes());
  EXPECT_EQ(l->KRowOffset(0, 0, 0), 0u);
  EXPECT_EQ(l->KRowOffset(0, 0, 3), 3u * 128);
  EXPECT_EQ(l->KRowOffset(0, 1, 0), 4u * 128);
  EXPECT_EQ(l->VRowOffset(0, 0, 0), 8u * 128);
  EXPECT_EQ(l->VRowOffset(0, 1, 2), 8u * 128 + 4 * 64 + 2 * 64);
  EXPECT_EQ(l->KRowOffset(2, 1, 1), 2 * l->layer_bytes() + 4 * 128 + 128);
  EXPECT_EQ(l->LayerRange(1), (ByteRange{l->layer_bytes(), l->layer_bytes()}));
  EXPECT_EQ(l->KHeadRange(1, 1), (ByteRange{l->layer_bytes() + 4 * 128, 4 * 128}));
  EXPECT_EQ(l->VHeadRange(2, 0), (ByteRange{2 * l->layer_bytes() + 8 * 128, 4 * 64}));
}

TEST(KvLayoutTest, RowsTileTheBlockWithoutOverlap) {
  auto l = KvLayout::Create(TestKvShape(2, 3, 32, 64, 8, TensorType::kQ8_0, TensorType::kQ4_0));
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->k_row_bytes(), 34u);  // one q8_0 block
  EXPECT_EQ(l->v_row_bytes(), 36u);  // two q4_0 blocks
  std::vector<int> covered(l->block_bytes(), 0);
  for (int layer = 0; layer < 2; ++layer)
    for (int head = 0; head < 3; ++head)
      for (int t = 0; t < 8; ++t) {
        for (uint64_t i = 0; i < l->k_row_bytes(); ++i) ++covered[l->KRowOffset(layer, head, t) + i];
        for (uint64_t i = 0; i < l->v_row_bytes(); ++i) ++covered[l->VRowOffset(layer, head, t) + i];
      }
  for (size_t i = 0; i < covered.size(); ++i) ASSERT_EQ(covered[i], 1) << "byte " << i;
}

TEST(KvLayoutTest, RejectsBadShapesClearly) {
  auto q = KvLayout::Create(TestKvShape(2, 2, 48, 64, 32, TensorType::kQ8_0));
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("48"), std::string::npos) << q.status().message();
  EXPECT_FALSE(KvLayout::Create(TestKvShape(0, 2, 64, 64, 32)).ok());
  EXPECT_FALSE(KvLayout::Create(TestKvShape(2, -1, 64, 64, 32)).ok());
  EXPECT_FALSE(KvLayout::Create(TestKvShape(2, 2, 64, 64, 0)).ok());
  EXPECT_FALSE(KvLayout::Create(TestKvShape(2, 2, 64, 64, 1 << 20)).ok());
  auto k = KvLayout::Create(TestKvShape(2, 2, 256, 256, 32, TensorType::kQ4_K));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.status().message().find("q4_K"), std::string::npos) << k.status().message();
}

TEST(KvLayoutTest, StateOnlyShapeHasNoKvBytes) {
  // A pure recurrent model (mamba2): no KV layer, blocks carry only checkpoints.
  auto l = KvLayout::Create(TestKvShape(0, 0, 0, 0, 32));
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->shape().num_layers, 0);
  EXPECT_EQ(l->block_bytes(), 0u);
  EXPECT_EQ(l->layer_bytes(), 0u);
  l->CopyTokenRows(nullptr, nullptr, 32);  // nothing to copy, nothing touched
  // One canonical shape: heads or dims without layers, or a bad block size, are errors.
  EXPECT_FALSE(KvLayout::Create(TestKvShape(0, 2, 0, 0, 32)).ok());
  EXPECT_FALSE(KvLayout::Create(TestKvShape(0, 0, 64, 0, 32)).ok());
  EXPECT_FALSE(KvLayout::Create(TestKvShape(0, 0, 0, 64, 32)).ok());
  EXPECT_FALSE(KvLayout::Create(TestKvShape(0, 0, 0, 0, 0)).ok());
  EXPECT_FALSE(KvLayout::Create(TestKvShape(0, 0, 0, 0, 1 << 20)).ok());
  EXPECT_FALSE(KvLayout::Create(TestKvShape(0, 0, 0, 0, 32, TensorType::kQ4_K)).ok());
  EXPECT_GT(KvLayout::Create(TestKvShape(2, 2, 64, 64, 32)).value().block_bytes(), 0u);
}

TEST(KvLayoutTest, CopyTokenRowsCopiesOnlyTheLeadingRows) {
  auto l = KvLayout::Create(TestKvShape(2, 2, 32, 32, 4));
  ASSERT_TRUE(l.ok());
  std::vector<uint8_t> src(l->block_bytes()), dst(l->block_bytes(), 0xEE);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7 + 1);
  l->CopyTokenRows(src.data(), dst.data(), 3);
  for (int layer = 0; layer < 2; ++layer)
    for (int head = 0; head < 2; ++head)
      for (int t = 0; t < 4; ++t) {
        const uint64_t k = l->KRowOffset(layer, head, t), v = l->VRowOffset(layer, head, t);
        for (uint64_t i = 0; i < l->k_row_bytes(); ++i) {
          ASSERT_EQ(dst[k + i], t < 3 ? src[k + i] : 0xEE);
          ASSERT_EQ(dst[v + i], t < 3 ? src[v + i] : 0xEE);
        }
      }
}

// The kernels read and write KV only through LayerView. For every KV dtype pair and a range of
// block sizes, every row the view addresses is the row KvLayout addresses, and a block written
// token by token through the views equals, byte for byte, one assembled by placing each encoded
// row at KvLayout's offsets (a change to either side breaks copy-on-write and tier restores).
TEST(KvLayoutTest, KernelViewsAgreeWithTheLayoutByteForByteForEveryDtypeAndBlockSize) {
  const TensorType kTypes[] = {TensorType::kF32, TensorType::kF16, TensorType::kBF16, TensorType::kQ8_0,
                               TensorType::kQ4_0};
  constexpr int32_t kL = 3, kH = 2, kDk = 64, kDv = 32;
  std::mt19937 rng(20);
  std::normal_distribution<float> normal;
  for (TensorType kt : kTypes) {
    for (TensorType vt : kTypes) {
      for (int32_t b : {1, 2, 3, 8, 16, 32, 64}) {
        SCOPED_TRACE(TestKvShape(kL, kH, kDk, kDv, b, kt, vt).DebugString());
        auto l = KvLayout::Create(TestKvShape(kL, kH, kDk, kDv, b, kt, vt));
        ASSERT_TRUE(l.ok()) << l.status().ToString();
        std::vector<uint8_t> written(l->block_bytes(), 0xA5), assembled(l->block_bytes(), 0xA5);
        // One row encoded on its own: a one-head, one-token view at offset 0.
        KvLayerLayout one = l->LayerView(0);
        one.n_kv_heads = 1;
        one.block_tokens = 1;
        one.k_offset = 0;
        one.v_offset = static_cast<int64_t>(l->k_row_bytes());
        std::vector<uint8_t> row(l->k_row_bytes() + l->v_row_bytes());
        std::vector<float> k(kH * kDk), v(kH * kDv);
        for (int32_t layer = 0; layer < kL; ++layer) {
          const KvLayerLayout view = l->LayerView(layer);
          ASSERT_TRUE(view.Validate().ok()) << view.Validate().ToString();
          for (int32_t t = 0; t < b; ++t) {
            for (int32_t h = 0; h < kH; ++h) {
              ASSERT_EQ(static_cast<uint64_t>(view.k_offset + h * view.k_head_stride + t * view.k_row_stride),
                        l->KRowOffset(layer, h, t));
              ASSERT_EQ(static_cast<uint64_t>(view.v_offset + h * view.v_head_stride + t * view.v_row_stride),
                        l->VRowOffset(layer, h, t));
            }
            for (float& x : k) x = normal(rng);
            for (float& x : v) x = normal(rng);
            ASSERT_TRUE(WriteKvRow(view, written.data(), t, k.data(), v.data()).ok());
            for (int32_t h = 0; h < kH; ++h) {
              ASSERT_TRUE(WriteKvRow(one, row.data(), 0, k.data() + h * kDk, v.data() + h * kDv).ok());
              std::memcpy(&assembled[l->KRowOffset(layer, h, t)], row.data(), l->k_row_bytes());
              std::memcpy(&assembled[l->VRowOffset(layer, h, t)], row.data() + l->k_row_bytes(), l->v_row_bytes());
            }
          }
        }
        ASSERT_EQ(written, assembled);
      }
    }
  }
}

}  // namespace
}  // namespace swarmkv
