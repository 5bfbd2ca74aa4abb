// KvLayerLayout: the kernels' view of where one layer's K and V rows live inside a KV block.
//
// The kernels do not decide the KV block layout; memory does (memory/kv_layout.h, the project's
// one definition, docs/conventions.md "KV block layout"). KvLayout::LayerView(layer) fills this
// view, and attention reads and writes rows only through its offsets and strides, so any layout
// whose rows are at least a row long works (the kernel tests use a deliberately different one).
//
// Invariant (checked by Validate): both dtypes are KV dtypes (IsKvType), the sizes are positive,
// each head dim is a whole number of its dtype's quant blocks, and each row stride is at least a
// row. The view itself does no layout arithmetic.
//
// Thread-safety: an immutable value.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "gguf/tensor_type.h"

namespace swarmkv {

// The dtypes the attention kernels can read and write as KV: f32, f16, bf16, q8_0, q4_0. The one
// list: memory's KvLayout::Create accepts exactly these.
bool IsKvType(TensorType type);

// Where one layer's K and V rows live inside a KV block.
struct KvLayerLayout {
  TensorType k_type = TensorType::kF16;
  TensorType v_type = TensorType::kF16;
  int n_kv_heads = 0;
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;
  int block_tokens = 0;        // B
  int64_t k_offset = 0;        // bytes from block base to this layer's K(head 0), token 0
  int64_t k_head_stride = 0;   // bytes from K(h) to K(h+1)
  int64_t k_row_stride = 0;    // bytes from token i to token i+1 within K(h)
  int64_t v_offset = 0;
  int64_t v_head_stride = 0;
  int64_t v_row_stride = 0;

  Status Validate() const;
};

}  // namespace swarmkv
