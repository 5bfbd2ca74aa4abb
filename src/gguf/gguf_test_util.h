// Test helper: assembles GGUF bytes field by field, so tests can build valid files and damage
// any field (tests only; the real writer is GgufWriter).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace swarmkv::testing {

class GgufBytes {
 public:
  GgufBytes& U8(uint8_t v) { return Raw(&v, 1); }
  GgufBytes& U32(uint32_t v) { return Raw(&v, 4); }
  GgufBytes& U64(uint64_t v) { return Raw(&v, 8); }
  GgufBytes& F32(float v) { return Raw(&v, 4); }
  GgufBytes& Str(std::string_view s) {
    U64(s.size());
    return Raw(s.data(), s.size());
  }
  GgufBytes& Raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return *this;
  }
  GgufBytes& PadTo(size_t alignment) {
    while (bytes.size() % alignment) bytes.push_back(0);
    return *this;
  }
  GgufBytes& Header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return Raw("GGUF", 4).U32(version).U64(n_tensors).U64(n_kv);
  }
  // A tensor info record.
  GgufBytes& Tensor(std::string_view name, std::vector<uint64_t> shape, uint32_t type, uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(shape.size()));
    for (uint64_t d : shape) U64(d);
    return U32(type).U64(offset);
  }
  std::vector<uint8_t> bytes;
};

}  // namespace swarmkv::testing
