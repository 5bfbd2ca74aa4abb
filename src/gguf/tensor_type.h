// Tensor element types as GGUF/ggml number them, with their block geometry.
//
// Invariant: the numeric values are ggml's (they are stored in files); a type's storage is
// blocks of `block_size` elements taking `type_size` bytes each, so a row of n elements (n a
// multiple of block_size) takes n / block_size * type_size bytes. Types swarmkv can compute
// with are marked `computable`; any other known or unknown id still loads as metadata and fails
// clearly only when a tensor of that type must be computed with.
//
// Thread-safety: constant tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace swarmkv {

enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ4_NL = 20,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
  kMXFP4 = 39,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;  // ggml's name: "f32", "q8_0", "q4_K"
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
};

// Traits of a known type id, or nullopt for an id swarmkv does not know.
std::optional<TensorTypeTraits> GetTensorTypeTraits(uint32_t type_id);
inline std::optional<TensorTypeTraits> GetTensorTypeTraits(TensorType t) {
  return GetTensorTypeTraits(static_cast<uint32_t>(t));
}
// "q8_0" for a known id, "type#N" otherwise.
std::string TensorTypeName(uint32_t type_id);
// Parses "f16", "Q8_0", "q4_k" (case-insensitive) into a known type.
std::optional<TensorType> ParseTensorType(std::string_view name);

// Bytes of a row of `num_elements`; nullopt if the type is unknown or the count is not a
// multiple of its block size.
std::optional<uint64_t> RowSizeBytes(uint32_t type_id, uint64_t num_elements);

}  // namespace swarmkv
