// GgufWriter: builds a GGUF v3 file, streaming tensor data so a model never sits in RAM twice.
//
// Usage: set metadata (in the order it should appear), declare tensors (name, type, shape), then
// Write(path, fill) where `fill(i, sink)` appends exactly tensor i's bytes to the sink (in one or
// many pieces). Offsets are computed up front from the declared shapes, so the header is written
// first and each tensor's bytes go straight to the file. The file appears atomically (written to
// "<path>.tmp", then renamed) and only when every tensor delivered exactly its size.
//
// Invariant: the output is a valid GGUF v3 file that GgufFile reads back with identical metadata
// (same keys, order, types and values) and identical tensor bytes; `general.alignment` (if set)
// is the alignment used for the data section (32 when unset).
//
// Thread-safety: a writer is used by one thread; `fill` is called sequentially, in tensor order.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "gguf/gguf_value.h"

namespace swarmkv {

struct GgufWriterTensor {
  std::string name;
  uint32_t type_id = 0;
  std::vector<uint64_t> shape;  // ggml order
  uint64_t size_bytes = 0;
  uint64_t offset = 0;          // from the data section, aligned (assigned by Write)
};

// Receives one tensor's bytes; Append fails if more than the declared size arrives.
class GgufTensorSink {
 public:
  virtual ~GgufTensorSink() = default;
  virtual Status Append(std::span<const uint8_t> bytes) = 0;
};

class GgufWriter {
 public:
  GgufWriter() = default;

  // Metadata setters; a key set twice is an error reported by Write (first error wins).
  void SetU8(std::string_view key, uint8_t v);
  void SetU32(std::string_view key, uint32_t v);
  void SetI32(std::string_view key, int32_t v);
  void SetU64(std::string_view key, uint64_t v);
  void SetF32(std::string_view key, float v);
  void SetBool(std::string_view key, bool v);
  void SetString(std::string_view key, std::string_view v);
  void SetStringArray(std::string_view key, const std::vector<std::string>& v);
  void SetF32Array(std::string_view key, std::span<const float> v);
  void SetI32Array(std::string_view key, std::span<const int32_t> v);
  // Copies a value read by GgufFile (any type, arrays verbatim).
  void SetValue(std::string_view key, const GgufValue& v);

  // Declares the next tensor. InvalidArgument for an unknown type, bad shape or duplicate name.
  Status AddTensor(std::string_view name, uint32_t type_id, std::vector<uint64_t> shape);
  const std::vector<GgufWriterTensor>& tensors() const { return tensors_; }
  size_t num_metadata() const { return num_kv_; }

  using FillFn = std::function<Status(size_t index, const GgufWriterTensor& tensor, GgufTensorSink& sink)>;
  Status Write(const std::string& path, const FillFn& fill, Env* env = Env::Default()) const;

 private:
  void BeginKey(std::string_view key, GgufValueType type);
  void PutU32(uint32_t v);
  void PutU64(uint64_t v);
  void PutString(std::string_view s);
  void PutBytes(const void* p, size_t n);

  uint64_t alignment_ = 32;  // from general.alignment when set
  std::string kv_bytes_;  // the encoded key/value section
  uint64_t num_kv_ = 0;
  std::unordered_set<std::string> keys_;
  std::vector<GgufWriterTensor> tensors_;
  std::unordered_set<std::string> tensor_names_;
  Status error_;
};

}  // namespace swarmkv
