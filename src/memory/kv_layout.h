// KvLayout: where each (layer, head, token)'s K and V row lives inside one KV block.
//
// The layout is fixed project-wide (docs/conventions.md, "KV block layout") and this is its one
// definition: kernels read and write rows through LayerView(layer) (kernels/kv_layer_layout.h),
// tiers store it. A block's bytes are layer-major:
//
//   block = layer 0 | layer 1 | ... | layer L-1
//   layer = K(head 0) | ... | K(head H-1) | V(head 0) | ... | V(head H-1)
//   K(h)  = B rows of RowSizeBytes(k_type, head_dim_k)   (token 0 .. B-1 of the block)
//   V(h)  = B rows of RowSizeBytes(v_type, head_dim_v)
//
// Invariant: one (layer, head)'s keys for a block are contiguous (K(h) is one range of
// B * k_row_bytes), and each layer's slice is one contiguous range of layer_bytes(), so tiers can
// store and stream a layer separately. Create() validates the shape (positive sizes, dtype with a
// whole number of quant blocks per row), so the offset functions never fail.
//
// A state-only shape (num_layers == 0, a pure recurrent model such as mamba2): the namespace's
// blocks hold no KV at all (block_bytes() == 0), only the recurrent checkpoint KvMemory stores
// after them. Its head count and head dims are 0 (one canonical shape per block size), and the
// per-layer functions (offsets, LayerView) have no valid layer to be called with.
//
// Thread-safety: an immutable value.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "gguf/tensor_type.h"
#include "kernels/kv_layer_layout.h"

namespace swarmkv {

// The shape of a namespace's KV: what the model and the --cache-type-k/-v options decide.
struct KvShape {
  int32_t num_layers = 0;     // L: layers that have KV (attention layers)
  int32_t num_kv_heads = 0;   // H
  int32_t head_dim_k = 0;     // Dk
  int32_t head_dim_v = 0;     // Dv
  int32_t block_tokens = 32;  // B
  TensorType k_type = TensorType::kF16;
  TensorType v_type = TensorType::kF16;

  bool operator==(const KvShape&) const = default;
  std::string DebugString() const;  // "L=30 H=3 Dk=64 Dv=64 B=32 k=f16 v=f16"
};

// One contiguous range of a block's bytes.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t size_bytes = 0;
  bool operator==(const ByteRange&) const = default;
};

class KvLayout {
 public:
  // InvalidArgument when a size is not positive, a dtype is not a KV dtype (IsKvType),
  // or a head dim is not a multiple of the dtype's block size (q8_0/q4_0 need multiples of 32).
  // num_layers == 0 is the state-only shape: then heads and head dims must be 0 too.
  static Result<KvLayout> Create(const KvShape& shape);

  const KvShape& shape() const { return shape_; }
  int32_t block_tokens() const { return shape_.block_tokens; }
  uint64_t k_row_bytes() const { return k_row_bytes_; }
  uint64_t v_row_bytes() const { return v_row_bytes_; }
  // Bytes of one layer's slice of a block: H * B * (k_row_bytes + v_row_bytes).
  uint64_t layer_bytes() const { return layer_bytes_; }
  // Bytes of a whole block: L * layer_bytes().
  uint64_t block_bytes() const { return layer_bytes_ * static_cast<uint64_t>(shape_.num_layers); }

  // REQUIRES: 0 <= layer < L, 0 <= head < H, 0 <= token < B.
  // Offset of the K row of `token` (index within the block) for (layer, head).
  uint64_t KRowOffset(int32_t layer, int32_t head, int32_t token) const {
    return LayerRange(layer).offset + static_cast<uint64_t>(head) * k_head_bytes() +
           static_cast<uint64_t>(token) * k_row_bytes_;
  }
  uint64_t VRowOffset(int32_t layer, int32_t head, int32_t token) const {
    return LayerRange(layer).offset + static_cast<uint64_t>(shape_.num_kv_heads) * k_head_bytes() +
           static_cast<uint64_t>(head) * v_head_bytes() + static_cast<uint64_t>(token) * v_row_bytes_;
  }
  // The B contiguous K rows (or V rows) of (layer, head): what attention reads.
  ByteRange KHeadRange(int32_t layer, int32_t head) const { return {KRowOffset(layer, head, 0), k_head_bytes()}; }
  ByteRange VHeadRange(int32_t layer, int32_t head) const { return {VRowOffset(layer, head, 0), v_head_bytes()}; }
  // One layer's slice of a block.
  ByteRange LayerRange(int32_t layer) const { return {static_cast<uint64_t>(layer) * layer_bytes_, layer_bytes_}; }

  // The kernels' view of layer `layer`: what PagedAttention and WriteKvRow take.
  // REQUIRES: 0 <= layer < L.
  KvLayerLayout LayerView(int32_t layer) const;

  // Copies the rows of tokens [0, num_tokens) of every (layer, head) from block `src` to block
  // `dst` (copy-on-write of a partially used block). REQUIRES: 0 <= num_tokens <= B.
  void CopyTokenRows(const uint8_t* src, uint8_t* dst, int32_t num_tokens) const;

  std::string DebugString() const;

 private:
  uint64_t k_head_bytes() const { return k_row_bytes_ * static_cast<uint64_t>(shape_.block_tokens); }
  uint64_t v_head_bytes() const { return v_row_bytes_ * static_cast<uint64_t>(shape_.block_tokens); }

  KvShape shape_;
  uint64_t k_row_bytes_ = 0;
  uint64_t v_row_bytes_ = 0;
  uint64_t layer_bytes_ = 0;
};

}  // namespace swarmkv
