#include "gguf/gguf_value.h"

#include <cstdio>
#include <cstring>
#include <limits>

namespace swarmkv {
namespace {

constexpr int kMaxArrayDepth = 8;  // llama.cpp never nests; deep nesting only comes from junk

template <typename T>
T LoadLE(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // x86-64/ARM little-endian hosts only
  return v;
}

std::string At(size_t pos) { return " at byte offset " + std::to_string(pos); }

}  // namespace

std::string GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kU8: return "u8";
    case GgufValueType::kI8: return "i8";
    case GgufValueType::kU16: return "u16";
    case GgufValueType::kI16: return "i16";
    case GgufValueType::kU32: return "u32";
    case GgufValueType::kI32: return "i32";
    case GgufValueType::kF32: return "f32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "string";
    case GgufValueType::kArray: return "array";
    case GgufValueType::kU64: return "u64";
    case GgufValueType::kI64: return "i64";
    case GgufValueType::kF64: return "f64";
  }
  return "type#" + std::to_string(static_cast<uint32_t>(type));
}

size_t GgufFixedSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool: return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16: return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32: return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64: return 8;
    default: return 0;
  }
}

bool GgufIsInteger(GgufValueType type) {
  switch (type) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kU16:
    case GgufValueType::kI16:
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kU64:
    case GgufValueType::kI64: return true;
    default: return false;
  }
}

GgufValue GgufValue::Scalar(GgufValueType type, const uint8_t* p) {
  GgufValue v;
  v.type_ = type;
  switch (GgufFixedSize(type)) {
    case 1: v.bits_ = p[0]; break;
    case 2: v.bits_ = LoadLE<uint16_t>(p); break;
    case 4: v.bits_ = LoadLE<uint32_t>(p); break;
    case 8: v.bits_ = LoadLE<uint64_t>(p); break;
    default: break;
  }
  return v;
}

GgufValue GgufValue::String(std::string_view s) {
  GgufValue v;
  v.type_ = GgufValueType::kString;
  v.str_ = s;
  return v;
}

GgufValue GgufValue::Array(GgufValueType elem_type, uint64_t count, std::span<const uint8_t> bytes) {
  GgufValue v;
  v.type_ = GgufValueType::kArray;
  v.elem_type_ = elem_type;
  v.count_ = count;
  v.bytes_ = bytes;
  return v;
}

std::optional<int64_t> GgufValue::AsInt64() const {
  switch (type_) {
    case GgufValueType::kI8: return static_cast<int8_t>(bits_);
    case GgufValueType::kI16: return static_cast<int16_t>(bits_);
    case GgufValueType::kI32: return static_cast<int32_t>(bits_);
    case GgufValueType::kI64: return static_cast<int64_t>(bits_);
    case GgufValueType::kU8:
    case GgufValueType::kU16:
    case GgufValueType::kU32: return static_cast<int64_t>(bits_);
    case GgufValueType::kU64:
      if (bits_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(bits_);
    default: return std::nullopt;
  }
}

std::optional<uint64_t> GgufValue::AsUint64() const {
  if (type_ == GgufValueType::kU64) return bits_;
  auto v = AsInt64();
  if (!v || *v < 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

std::optional<double> GgufValue::AsDouble() const {
  if (type_ == GgufValueType::kF32) {
    float f;
    uint32_t b = static_cast<uint32_t>(bits_);
    std::memcpy(&f, &b, 4);
    return f;
  }
  if (type_ == GgufValueType::kF64) {
    double d;
    std::memcpy(&d, &bits_, 8);
    return d;
  }
  if (type_ == GgufValueType::kU64) return static_cast<double>(bits_);
  if (auto i = AsInt64()) return static_cast<double>(*i);
  return std::nullopt;
}

std::vector<GgufValue> GgufValue::ArrayElements() const {
  std::vector<GgufValue> out;
  out.reserve(count_);
  size_t pos = 0;
  for (uint64_t i = 0; i < count_; ++i) {
    GgufValue e;
    // Cannot fail: the bytes were validated when the array was parsed.
    std::string err = internal::ParseGgufValue(bytes_.data(), bytes_.size(), &pos, elem_type_, 0, &e);
    if (!err.empty()) break;
    out.push_back(e);
  }
  return out;
}

GgufValue GgufValue::FixedElement(uint64_t i) const {
  size_t sz = GgufFixedSize(elem_type_);
  return Scalar(elem_type_, bytes_.data() + i * sz);
}

std::string GgufValue::DebugString(size_t max_items) const {
  switch (type_) {
    case GgufValueType::kString: {
      std::string s = "\"";
      for (char c : str_) {
        if (c == '"' || c == '\\') {
          s += '\\';
          s += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
          static const char* kHex = "0123456789abcdef";
          s += "\\x";
          s += kHex[(c >> 4) & 0xF];
          s += kHex[c & 0xF];
        } else {
          s += c;
        }
      }
      return s + "\"";
    }
    case GgufValueType::kBool: return bits_ ? "true" : "false";
    case GgufValueType::kF32:
    case GgufValueType::kF64: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.9g", *AsDouble());
      return buf;
    }
    case GgufValueType::kArray: {
      std::string s = "[";
      size_t shown = 0;
      if (GgufFixedSize(elem_type_) > 0) {
        for (; shown < count_ && shown < max_items; ++shown) {
          if (shown) s += ", ";
          s += FixedElement(shown).DebugString(max_items);
        }
      } else {
        size_t pos = 0;
        for (; shown < count_ && shown < max_items; ++shown) {
          GgufValue e;
          if (!internal::ParseGgufValue(bytes_.data(), bytes_.size(), &pos, elem_type_, 0, &e).empty()) break;
          if (shown) s += ", ";
          s += e.DebugString(max_items);
        }
      }
      if (shown < count_) s += ", ... (" + std::to_string(count_) + " items)";
      return s + "]";
    }
    default:
      if (type_ == GgufValueType::kU64) return std::to_string(bits_);
      return std::to_string(*AsInt64());
  }
}

namespace internal {

std::string ParseGgufValue(const uint8_t* data, size_t size, size_t* pos, GgufValueType type,
                           int depth, GgufValue* out) {
  const size_t start = *pos;
  if (start > size) return "value starts past the end" + At(start);
  const size_t remaining = size - start;
  if (size_t fixed = GgufFixedSize(type)) {
    if (remaining < fixed)
      return "truncated " + GgufValueTypeName(type) + " value" + At(start) + " (needs " +
             std::to_string(fixed) + " bytes, " + std::to_string(remaining) + " left)";
    *out = GgufValue::Scalar(type, data + start);
    *pos += fixed;
    return "";
  }
  if (type == GgufValueType::kString) {
    if (remaining < 8) return "truncated string length" + At(start);
    uint64_t len = LoadLE<uint64_t>(data + start);
    if (len > remaining - 8)
      return "string length " + std::to_string(len) + At(start) + " runs past the end (" +
             std::to_string(remaining - 8) + " bytes left)";
    *out = GgufValue::String(std::string_view(reinterpret_cast<const char*>(data + start + 8), len));
    *pos += 8 + len;
    return "";
  }
  if (type == GgufValueType::kArray) {
    if (depth >= kMaxArrayDepth) return "arrays nested deeper than " + std::to_string(kMaxArrayDepth) + At(start);
    if (remaining < 12) return "truncated array header" + At(start);
    auto elem_type = static_cast<GgufValueType>(LoadLE<uint32_t>(data + start));
    uint64_t count = LoadLE<uint64_t>(data + start + 4);
    size_t body = start + 12;
    size_t left = remaining - 12;
    size_t min_elem;
    if (size_t fixed = GgufFixedSize(elem_type)) {
      min_elem = fixed;
    } else if (elem_type == GgufValueType::kString) {
      min_elem = 8;
    } else if (elem_type == GgufValueType::kArray) {
      min_elem = 12;
    } else {
      return "array of unknown value type " + std::to_string(static_cast<uint32_t>(elem_type)) + At(start);
    }
    if (count > left / min_elem)
      return "array of " + std::to_string(count) + " " + GgufValueTypeName(elem_type) + " elements" +
             At(start) + " cannot fit in the " + std::to_string(left) + " bytes left";
    size_t p = body;
    if (GgufFixedSize(elem_type) > 0) {
      p += count * min_elem;
    } else {
      GgufValue ignored;
      for (uint64_t i = 0; i < count; ++i) {
        std::string err = ParseGgufValue(data, size, &p, elem_type, depth + 1, &ignored);
        if (!err.empty()) return "array element " + std::to_string(i) + ": " + err;
      }
    }
    *out = GgufValue::Array(elem_type, count, std::span<const uint8_t>(data + body, p - body));
    *pos = p;
    return "";
  }
  return "unknown value type " + std::to_string(static_cast<uint32_t>(type)) + At(start);
}

}  // namespace internal
}  // namespace swarmkv
