#include "memory/kv_layout.h"

#include <cstring>
#include <sstream>

namespace swarmkv {
namespace {

Result<uint64_t> RowBytes(TensorType type, int32_t head_dim, const char* which) {
  if (!IsKvType(type)) {
    return InvalidArgumentError(std::string("KV ") + which + " dtype " + TensorTypeName(static_cast<uint32_t>(type)) +
                                " is not supported (use f32, f16, bf16, q8_0 or q4_0)");
  }
  std::optional<uint64_t> bytes = RowSizeBytes(static_cast<uint32_t>(type), static_cast<uint64_t>(head_dim));
  if (!bytes) {
    return InvalidArgumentError(std::string("KV ") + which + " head dim " + std::to_string(head_dim) +
                                " is not a multiple of the block size of " +
                                TensorTypeName(static_cast<uint32_t>(type)));
  }
  return *bytes;
}

// The state-only shape (no KV layer): every KV size 0, a sane block size, KV dtypes as usual
// (they are part of the namespace like for any model).
Status CheckStateOnlyShape(const KvShape& shape) {
  if (shape.num_kv_heads != 0 || shape.head_dim_k != 0 || shape.head_dim_v != 0)
    return InvalidArgumentError("KV shape without KV layers must have no heads and head dims 0: " + shape.DebugString());
  if (shape.block_tokens <= 0 || shape.block_tokens > 4096)
    return InvalidArgumentError("KV shape has a bad block size: " + shape.DebugString());
  if (!IsKvType(shape.k_type) || !IsKvType(shape.v_type))
    return InvalidArgumentError("KV dtype is not supported (use f32, f16, bf16, q8_0 or q4_0): " + shape.DebugString());
  return Status::OK();
}

}  // namespace

std::string KvShape::DebugString() const {
  std::ostringstream os;
  os << "L=" << num_layers << " H=" << num_kv_heads << " Dk=" << head_dim_k << " Dv=" << head_dim_v
     << " B=" << block_tokens << " k=" << TensorTypeName(static_cast<uint32_t>(k_type))
     << " v=" << TensorTypeName(static_cast<uint32_t>(v_type));
  return os.str();
}

Result<KvLayout> KvLayout::Create(const KvShape& shape) {
  if (shape.num_layers == 0) {  // state-only: block_bytes() == 0, rows and layers of 0 bytes
    SKV_RETURN_IF_ERROR(CheckStateOnlyShape(shape));
    KvLayout layout;
    layout.shape_ = shape;
    return layout;
  }
  if (shape.num_layers <= 0 || shape.num_kv_heads <= 0 || shape.head_dim_k <= 0 || shape.head_dim_v <= 0 ||
      shape.block_tokens <= 0) {
    return InvalidArgumentError("KV shape has a non-positive size: " + shape.DebugString());
  }
  if (shape.block_tokens > 4096 || shape.num_layers > 4096 || shape.num_kv_heads > 4096 ||
      shape.head_dim_k > 65536 || shape.head_dim_v > 65536) {
    return InvalidArgumentError("KV shape is absurdly large: " + shape.DebugString());
  }
  KvLayout layout;
  layout.shape_ = shape;
  SKV_ASSIGN_OR_RETURN(layout.k_row_bytes_, RowBytes(shape.k_type, shape.head_dim_k, "K"));
  SKV_ASSIGN_OR_RETURN(layout.v_row_bytes_, RowBytes(shape.v_type, shape.head_dim_v, "V"));
  layout.layer_bytes_ = static_cast<uint64_t>(shape.num_kv_heads) * static_cast<uint64_t>(shape.block_tokens) *
                        (layout.k_row_bytes_ + layout.v_row_bytes_);
  return layout;
}

KvLayerLayout KvLayout::LayerView(int32_t layer) const {
  KvLayerLayout view;
  view.k_type = shape_.k_type;
  view.v_type = shape_.v_type;
  view.n_kv_heads = shape_.num_kv_heads;
  view.head_dim_k = shape_.head_dim_k;
  view.head_dim_v = shape_.head_dim_v;
  view.block_tokens = shape_.block_tokens;
  view.k_offset = static_cast<int64_t>(KRowOffset(layer, 0, 0));
  view.k_head_stride = static_cast<int64_t>(k_head_bytes());
  view.k_row_stride = static_cast<int64_t>(k_row_bytes_);
  view.v_offset = static_cast<int64_t>(VRowOffset(layer, 0, 0));
  view.v_head_stride = static_cast<int64_t>(v_head_bytes());
  view.v_row_stride = static_cast<int64_t>(v_row_bytes_);
  return view;
}

void KvLayout::CopyTokenRows(const uint8_t* src, uint8_t* dst, int32_t num_tokens) const {
  if (num_tokens <= 0) return;
  const uint64_t k_bytes = static_cast<uint64_t>(num_tokens) * k_row_bytes_;
  const uint64_t v_bytes = static_cast<uint64_t>(num_tokens) * v_row_bytes_;
  for (int32_t layer = 0; layer < shape_.num_layers; ++layer) {
    for (int32_t head = 0; head < shape_.num_kv_heads; ++head) {
      const uint64_t k = KRowOffset(layer, head, 0);
      std::memcpy(dst + k, src + k, k_bytes);
      const uint64_t v = VRowOffset(layer, head, 0);
      std::memcpy(dst + v, src + v, v_bytes);
    }
  }
}

std::string KvLayout::DebugString() const {
  std::ostringstream os;
  os << shape_.DebugString() << " k_row=" << k_row_bytes_ << "B v_row=" << v_row_bytes_ << "B layer=" << layer_bytes_
     << "B block=" << block_bytes() << "B";
  return os.str();
}

}  // namespace swarmkv
