// Test-only: a KV layer view for the kernel tests and benchmarks, deliberately unlike memory's
// layout (memory/kv_layout.h, docs/conventions.md): within a layer V comes before K, every row
// is padded by 16 bytes and each layer starts after a 64-byte gap. A kernel that assumed the
// conventions instead of reading the view's offsets and strides fails the tests that use it.
// That memory's layout and the views it hands the kernels agree byte for byte is tested in
// memory/kv_layout_test.cc.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "kernels/kv_layer_layout.h"
#include "kernels/quants.h"

namespace swarmkv::testing_kv {

inline constexpr int64_t kRowPadBytes = 16;
inline constexpr int64_t kLayerGapBytes = 64;

// Bytes of one layer's slice of a block under the test layout.
inline int64_t LayerBytes(TensorType k_type, TensorType v_type, int n_kv_heads, int64_t head_dim_k,
                          int64_t head_dim_v, int block_tokens) {
  return kLayerGapBytes + int64_t{n_kv_heads} * block_tokens *
                              (RowBytes(k_type, head_dim_k) + RowBytes(v_type, head_dim_v) + 2 * kRowPadBytes);
}

// The view of layer `layer`. A head dim that is not a whole number of quant blocks (or a dtype
// that is not a KV dtype) gives a view whose Validate() fails, as memory's would refuse it.
inline KvLayerLayout LayerView(TensorType k_type, TensorType v_type, int n_kv_heads, int64_t head_dim_k,
                               int64_t head_dim_v, int block_tokens, int layer) {
  KvLayerLayout l;
  l.k_type = k_type;
  l.v_type = v_type;
  l.n_kv_heads = n_kv_heads;
  l.head_dim_k = head_dim_k;
  l.head_dim_v = head_dim_v;
  l.block_tokens = block_tokens;
  l.k_row_stride = RowBytes(k_type, head_dim_k) + kRowPadBytes;
  l.v_row_stride = RowBytes(v_type, head_dim_v) + kRowPadBytes;
  l.k_head_stride = l.k_row_stride * block_tokens;
  l.v_head_stride = l.v_row_stride * block_tokens;
  l.v_offset = layer * LayerBytes(k_type, v_type, n_kv_heads, head_dim_k, head_dim_v, block_tokens) + kLayerGapBytes;
  l.k_offset = l.v_offset + n_kv_heads * l.v_head_stride;
  return l;
}

// Bytes of a block of `num_layers` layers laid out like `view`.
inline int64_t BlockBytes(const KvLayerLayout& view, int num_layers) {
  return num_layers * LayerBytes(view.k_type, view.v_type, view.n_kv_heads, view.head_dim_k, view.head_dim_v,
                                 view.block_tokens);
}

}  // namespace swarmkv::testing_kv
