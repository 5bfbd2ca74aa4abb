#include "gguf/tensor_type.h"

#include <array>
#include <cctype>
#include <string>

namespace swarmkv {
namespace {

constexpr std::array<TensorTypeTraits, 23> kTypes = {{
    {TensorType::kF32, "f32", 1, 4},
    {TensorType::kF16, "f16", 1, 2},
    {TensorType::kQ4_0, "q4_0", 32, 18},
    {TensorType::kQ4_1, "q4_1", 32, 20},
    {TensorType::kQ5_0, "q5_0", 32, 22},
    {TensorType::kQ5_1, "q5_1", 32, 24},
    {TensorType::kQ8_0, "q8_0", 32, 34},
    {TensorType::kQ8_1, "q8_1", 32, 36},
    {TensorType::kQ2_K, "q2_K", 256, 84},
    {TensorType::kQ3_K, "q3_K", 256, 110},
    {TensorType::kQ4_K, "q4_K", 256, 144},
    {TensorType::kQ5_K, "q5_K", 256, 176},
    {TensorType::kQ6_K, "q6_K", 256, 210},
    {TensorType::kQ8_K, "q8_K", 256, 292},
    {TensorType::kIQ4_NL, "iq4_nl", 32, 18},
    {TensorType::kIQ4_XS, "iq4_xs", 256, 136},
    {TensorType::kI8, "i8", 1, 1},
    {TensorType::kI16, "i16", 1, 2},
    {TensorType::kI32, "i32", 1, 4},
    {TensorType::kI64, "i64", 1, 8},
    {TensorType::kF64, "f64", 1, 8},
    {TensorType::kBF16, "bf16", 1, 2},
    {TensorType::kMXFP4, "mxfp4", 32, 17},
}};

}  // namespace

std::optional<TensorTypeTraits> GetTensorTypeTraits(uint32_t type_id) {
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == type_id) return t;
  return std::nullopt;
}

std::string TensorTypeName(uint32_t type_id) {
  if (auto t = GetTensorTypeTraits(type_id)) return std::string(t->name);
  return "type#" + std::to_string(type_id);
}

std::optional<TensorType> ParseTensorType(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& t : kTypes) {
    std::string n(t.name);
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n == lower) return t.type;
  }
  return std::nullopt;
}

std::optional<uint64_t> RowSizeBytes(uint32_t type_id, uint64_t num_elements) {
  auto t = GetTensorTypeTraits(type_id);
  if (!t || num_elements % t->block_size != 0) return std::nullopt;
  return num_elements / t->block_size * t->type_size;
}

}  // namespace swarmkv
