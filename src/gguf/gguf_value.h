// GgufValue: one parsed GGUF metadata value (scalar, string or array, arrays possibly nested).
//
// Invariant: a GgufValue is a view. Strings and array element bytes point into the bytes the
// value was parsed from (the file mapping or a caller's buffer) and are valid only while those
// live. An array value has been fully validated when it was parsed (every nested length fits in
// its bytes), so walking it later cannot fail; its raw bytes are exactly the GGUF encoding of
// the elements (without the element type and count), which lets the writer copy it verbatim.
// Multi-byte values are little-endian in the file (GGUF v3 big-endian files are rejected).
//
// Thread-safety: immutable value; share freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace swarmkv {

enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// "u32", "string", "array", ...; "type#N" for an unknown id.
std::string GgufValueTypeName(GgufValueType type);
// Bytes of one element of a fixed-size type (1..8); 0 for string, array and unknown ids.
size_t GgufFixedSize(GgufValueType type);
bool GgufIsInteger(GgufValueType type);

class GgufValue {
 public:
  GgufValue() = default;  // a u8 0

  // Builders used by the parser (and by tests that want a value without a file).
  static GgufValue Scalar(GgufValueType type, const uint8_t* le_bytes);  // REQUIRES: fixed-size type
  static GgufValue String(std::string_view s);
  // REQUIRES: `bytes` holds exactly `count` validated elements of `elem_type`.
  static GgufValue Array(GgufValueType elem_type, uint64_t count, std::span<const uint8_t> bytes);

  GgufValueType type() const { return type_; }
  bool is_integer() const { return GgufIsInteger(type_); }
  bool is_array() const { return type_ == GgufValueType::kArray; }

  // Scalars. An integer as int64/uint64 when it fits (nullopt otherwise or when not an integer).
  std::optional<int64_t> AsInt64() const;
  std::optional<uint64_t> AsUint64() const;
  // F32/F64 (and integers) as double; nullopt for other types.
  std::optional<double> AsDouble() const;
  bool AsBool() const { return bits_ != 0; }          // REQUIRES: type() == kBool
  std::string_view AsString() const { return str_; }  // REQUIRES: type() == kString

  // Arrays. REQUIRES: is_array().
  GgufValueType array_type() const { return elem_type_; }
  uint64_t array_size() const { return count_; }
  // The raw GGUF encoding of the elements (for fixed-size types: count * size LE values).
  std::span<const uint8_t> array_bytes() const { return bytes_; }
  // Every element as a value (strings and nested arrays are walked; O(size)).
  std::vector<GgufValue> ArrayElements() const;
  // Element i of a fixed-size array (O(1)). REQUIRES: GgufFixedSize(array_type()) > 0, i < size.
  GgufValue FixedElement(uint64_t i) const;

  // "42", "\"llama\"", "[1, 2, 3, ... (32000 items)]" with at most `max_items` shown per array.
  std::string DebugString(size_t max_items = 8) const;

 private:
  GgufValueType type_ = GgufValueType::kU8;
  uint64_t bits_ = 0;        // scalars: the value's bits, zero-extended (F32/F64 as raw bits)
  std::string_view str_;     // kString
  GgufValueType elem_type_ = GgufValueType::kU8;  // kArray
  uint64_t count_ = 0;                             // kArray
  std::span<const uint8_t> bytes_;                 // kArray
};

namespace internal {
// Parses one value of `type` at `data[*pos]`, advancing *pos. Returns an error message (empty on
// success) that names the byte offset; `depth` bounds array nesting. Used by the reader.
std::string ParseGgufValue(const uint8_t* data, size_t size, size_t* pos, GgufValueType type,
                           int depth, GgufValue* out);
}  // namespace internal

}  // namespace swarmkv
