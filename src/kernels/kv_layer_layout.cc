#include "kernels/kv_layer_layout.h"

#include <string>

#include "kernels/quants.h"

namespace swarmkv {

bool IsKvType(TensorType t) {
  return t == TensorType::kF32 || t == TensorType::kF16 || t == TensorType::kBF16 ||
         t == TensorType::kQ8_0 || t == TensorType::kQ4_0;
}

Status KvLayerLayout::Validate() const {
  if (!IsKvType(k_type) || !IsKvType(v_type)) {
    return InvalidArgumentError("KV layout: dtypes must be f32, f16, bf16, q8_0 or q4_0, got " +
                                TensorTypeName(uint32_t(k_type)) + "/" + TensorTypeName(uint32_t(v_type)));
  }
  if (n_kv_heads <= 0 || block_tokens <= 0 || head_dim_k <= 0 || head_dim_v <= 0) {
    return InvalidArgumentError("KV layout: heads, head dims and block size must be positive");
  }
  if (RowBytes(k_type, head_dim_k) == 0 || RowBytes(v_type, head_dim_v) == 0) {
    return InvalidArgumentError("KV layout: head dims " + std::to_string(head_dim_k) + "/" +
                                std::to_string(head_dim_v) + " are not multiples of the " +
                                TensorTypeName(uint32_t(k_type)) + "/" +
                                TensorTypeName(uint32_t(v_type)) + " block size");
  }
  if (k_row_stride < RowBytes(k_type, head_dim_k) || v_row_stride < RowBytes(v_type, head_dim_v)) {
    return InvalidArgumentError("KV layout: row stride smaller than a row");
  }
  return Status::OK();
}

}  // namespace swarmkv
