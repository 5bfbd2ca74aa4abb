// GgufFile: a validated, read-only view of a GGUF v2/v3 file (memory-mapped or a caller's buffer).
//
// Invariant: once Open/FromBuffer succeeds, every count, length, offset and size in the file has
// been checked against the bytes: each metadata value lies inside the header, each tensor of a
// known type lies inside the data section, starts at a multiple of `alignment()`, and no two
// tensors overlap. A tensor of a type swarmkv does not know (`type_known == false`) still loads
// (its metadata and offset are checked, its size cannot be) and fails only when a consumer
// needs its data. Errors are Corruption (malformed), Unimplemented (valid but unsupported, e.g.
// version 1) or IOError, and name what is wrong and where (key, tensor, byte offset).
//
// Strings and arrays are views into the bytes (no copy): opening a file with a 150k-entry token
// list costs one validation walk over it and no allocation per string.
//
// Thread-safety: immutable after construction; share freely across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "gguf/gguf_value.h"
#include "gguf/tensor_type.h"

namespace swarmkv {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint64_t kGgufDefaultAlignment = 32;
inline constexpr int kGgufMaxDims = 4;

struct GgufTensorInfo {
  std::string name;
  uint32_t type_id = 0;
  std::vector<uint64_t> shape;  // ggml order: shape[0] = row length (contiguous)
  uint64_t offset = 0;          // from the start of the data section
  const uint8_t* data = nullptr;
  uint64_t size_bytes = 0;      // 0 when !type_known
  uint64_t num_elements = 0;
  bool type_known = true;       // GetTensorTypeTraits(type_id) has a value

  TensorType type() const { return static_cast<TensorType>(type_id); }
  uint64_t ne(int i) const { return i < static_cast<int>(shape.size()) ? shape[i] : 1; }
};

class GgufFile {
 public:
  // Maps `path` and validates it.
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path, Env* env = Env::Default());
  // Validates `bytes` in place (no copy). REQUIRES: the caller keeps `bytes` alive and unchanged
  // for the life of the returned object.
  static Result<std::unique_ptr<GgufFile>> FromBuffer(std::span<const uint8_t> bytes);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Byte offset of the data section from the start of the file.
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }
  const std::string& path() const { return path_; }  // "" for FromBuffer
  std::span<const uint8_t> bytes() const { return bytes_; }

  const GgufValue* Find(std::string_view key) const;  // nullptr if absent

  // Typed getters: NotFound if absent; InvalidArgument naming the key and the actual type if the
  // type does not match. Integer getters accept any integer type whose value fits.
  Result<std::string_view> GetString(std::string_view key) const;
  Result<uint32_t> GetU32(std::string_view key) const;
  Result<uint64_t> GetU64(std::string_view key) const;
  Result<int32_t> GetI32(std::string_view key) const;
  Result<float> GetF32(std::string_view key) const;  // also accepts f64
  Result<bool> GetBool(std::string_view key) const;
  Result<std::vector<std::string_view>> GetStringArray(std::string_view key) const;
  Result<std::vector<float>> GetF32Array(std::string_view key) const;
  Result<std::vector<int32_t>> GetI32Array(std::string_view key) const;  // any integer elements that fit

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  std::string DebugString() const;

 private:
  GgufFile() = default;
  Status Parse();

  // Constant after construction.
  std::string path_;
  std::unique_ptr<MappedFile> mapping_;  // null for FromBuffer
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> key_index_;     // views into metadata_ keys
  std::unordered_map<std::string_view, size_t> tensor_index_;  // views into tensors_ names
};

}  // namespace swarmkv
