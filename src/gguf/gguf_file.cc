#include "gguf/gguf_file.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

namespace swarmkv {
namespace {

template <typename T>
T LoadLE(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string At(size_t pos) { return " at byte offset " + std::to_string(pos); }

// A bounds-checked reader over the header bytes; every failure names the byte offset.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  Status U32(std::string_view what, uint32_t* v) { return Fixed(what, v); }
  Status U64(std::string_view what, uint64_t* v) { return Fixed(what, v); }
  Status String(std::string_view what, std::string_view* s) {
    GgufValue v;
    std::string err = internal::ParseGgufValue(data_, size_, &pos_, GgufValueType::kString, 0, &v);
    if (!err.empty()) return CorruptionError(std::string(what) + ": " + err);
    *s = v.AsString();
    return Status::OK();
  }
  Status Value(std::string_view what, GgufValueType type, GgufValue* v) {
    std::string err = internal::ParseGgufValue(data_, size_, &pos_, type, 0, v);
    if (!err.empty()) return CorruptionError(std::string(what) + ": " + err);
    return Status::OK();
  }

 private:
  template <typename T>
  Status Fixed(std::string_view what, T* v) {
    if (left() < sizeof(T))
      return CorruptionError("truncated " + std::string(what) + At(pos_) + " (needs " +
                             std::to_string(sizeof(T)) + " bytes, " + std::to_string(left()) + " left)");
    *v = LoadLE<T>(data_ + pos_);
    pos_ += sizeof(T);
    return Status::OK();
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

std::string TypeMismatch(std::string_view key, const GgufValue& v, std::string_view wanted) {
  std::string actual = GgufValueTypeName(v.type());
  if (v.is_array()) actual += " of " + GgufValueTypeName(v.array_type());
  return "metadata key '" + std::string(key) + "' is " + actual + ", expected " + std::string(wanted);
}

std::string ShapeString(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path, Env* env) {
  SKV_ASSIGN_OR_RETURN(auto mapping, env->MapFile(path));
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->bytes_ = std::span<const uint8_t>(mapping->data(), mapping->size());
  f->mapping_ = std::move(mapping);
  Status s = f->Parse();
  if (!s.ok()) return s.WithContext("GGUF file '" + path + "'");
  return f;
}

Result<std::unique_ptr<GgufFile>> GgufFile::FromBuffer(std::span<const uint8_t> bytes) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->bytes_ = bytes;
  Status s = f->Parse();
  if (!s.ok()) return s.WithContext("GGUF buffer");
  return f;
}

Status GgufFile::Parse() {
  Cursor c(bytes_.data(), bytes_.size());
  uint32_t magic = 0;
  SKV_RETURN_IF_ERROR(c.U32("magic", &magic));
  if (magic != kGgufMagic) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "0x%08x", magic);
    return CorruptionError("bad magic " + std::string(buf) + " at byte offset 0 (not a GGUF file)");
  }
  SKV_RETURN_IF_ERROR(c.U32("version", &version_));
  if (version_ == 1) return UnimplementedError("GGUF version 1 is not supported (need 2 or 3)");
  if (version_ != 2 && version_ != 3) {
    std::string hint = (version_ & 0xFFFF) == 0 ? " (a big-endian file?)" : "";
    return CorruptionError("unknown GGUF version " + std::to_string(version_) + " at byte offset 4" + hint +
                           "; supported: 2, 3");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  SKV_RETURN_IF_ERROR(c.U64("tensor count", &n_tensors));
  SKV_RETURN_IF_ERROR(c.U64("metadata count", &n_kv));
  // Smallest encodings: a key/value is 8 (key length) + 4 (type) + 1 byte; a tensor info is
  // 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset).
  if (n_kv > c.left() / 13)
    return CorruptionError("metadata count " + std::to_string(n_kv) + " at byte offset 16 cannot fit in a " +
                           std::to_string(bytes_.size()) + "-byte file");
  if (n_tensors > c.left() / 24)
    return CorruptionError("tensor count " + std::to_string(n_tensors) + " at byte offset 8 cannot fit in a " +
                           std::to_string(bytes_.size()) + "-byte file");

  // Reserve only a bounded amount: the counts are validated against the file size, but a
  // corrupt count in a large file must not turn into a multi-GB allocation before parsing fails.
  metadata_.reserve(std::min<uint64_t>(n_kv, 4096));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string_view key;
    SKV_RETURN_IF_ERROR(c.String("key of metadata entry " + std::to_string(i), &key));
    uint32_t type = 0;
    SKV_RETURN_IF_ERROR(c.U32("value type of metadata key '" + std::string(key) + "'", &type));
    GgufValue value;
    SKV_RETURN_IF_ERROR(c.Value("metadata key '" + std::string(key) + "'", static_cast<GgufValueType>(type), &value));
    metadata_.emplace_back(std::string(key), value);
  }
  for (size_t i = 0; i < metadata_.size(); ++i) {
    if (!key_index_.emplace(metadata_[i].first, i).second)
      return CorruptionError("duplicate metadata key '" + metadata_[i].first + "'");
  }

  if (const GgufValue* a = Find("general.alignment")) {
    auto v = a->AsUint64();
    if (!a->is_integer() || !v || *v == 0 || (*v & (*v - 1)) != 0 || *v > (1u << 30))
      return CorruptionError("general.alignment must be a power-of-two integer, got " + a->DebugString() + " (" +
                             GgufValueTypeName(a->type()) + ")");
    alignment_ = *v;
  }

  tensors_.reserve(std::min<uint64_t>(n_tensors, 4096));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const size_t info_pos = c.pos();
    GgufTensorInfo t;
    std::string_view name;
    SKV_RETURN_IF_ERROR(c.String("name of tensor " + std::to_string(i), &name));
    t.name = std::string(name);
    const std::string what = "tensor '" + t.name + "'";
    uint32_t n_dims = 0;
    SKV_RETURN_IF_ERROR(c.U32(what + " dimension count", &n_dims));
    if (n_dims == 0 || n_dims > kGgufMaxDims)
      return CorruptionError(what + " has " + std::to_string(n_dims) + " dimensions" + At(info_pos) +
                             " (must be 1.." + std::to_string(kGgufMaxDims) + ")");
    t.shape.resize(n_dims);
    uint64_t elems = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      SKV_RETURN_IF_ERROR(c.U64(what + " dimension " + std::to_string(d), &t.shape[d]));
      uint64_t n = t.shape[d];
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (n != 0 && elems > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / n))
        return CorruptionError(what + " shape " + ShapeString(t.shape) + " overflows 63 bits" + At(info_pos));
      elems *= n;
    }
    t.num_elements = elems;
    SKV_RETURN_IF_ERROR(c.U32(what + " type", &t.type_id));
    SKV_RETURN_IF_ERROR(c.U64(what + " offset", &t.offset));
    auto traits = GetTensorTypeTraits(t.type_id);
    t.type_known = traits.has_value();
    if (t.type_known) {
      if (t.shape[0] % traits->block_size != 0)
        return CorruptionError(what + " row length " + std::to_string(t.shape[0]) + " is not a multiple of " +
                               std::string(traits->name) + "'s block size " + std::to_string(traits->block_size));
      // elems < 2^63 and type_size/block_size <= 36 bytes/element for every type: fits in 64 bits
      // only after dividing first.
      uint64_t blocks = elems / traits->block_size;
      if (blocks > std::numeric_limits<uint64_t>::max() / traits->type_size)
        return CorruptionError(what + " size overflows 64 bits");
      t.size_bytes = blocks * traits->type_size;
    }
    if (t.offset % alignment_ != 0)
      return CorruptionError(what + " offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                             std::to_string(alignment_));
    tensors_.push_back(std::move(t));
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!tensor_index_.emplace(tensors_[i].name, i).second)
      return CorruptionError("duplicate tensor name '" + tensors_[i].name + "'");
  }

  // The data section starts at the next multiple of the alignment after the tensor infos.
  uint64_t header_end = c.pos();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t file_size = bytes_.size();
  if (tensors_.empty()) {
    if (data_offset_ > file_size) data_offset_ = file_size;  // no data section needed
    return Status::OK();
  }
  if (data_offset_ > file_size)
    return CorruptionError("data section would start at byte offset " + std::to_string(data_offset_) +
                           ", past the end of the " + std::to_string(file_size) + "-byte file");
  const uint64_t data_size = file_size - data_offset_;
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.size_bytes > data_size - t.offset)
      return CorruptionError("tensor '" + t.name + "' data [" + std::to_string(t.offset) + ", +" +
                             std::to_string(t.size_bytes) + ") runs past the end of the data section (" +
                             std::to_string(data_size) + " bytes from byte offset " + std::to_string(data_offset_) + ")");
    t.data = bytes_.data() + data_offset_ + t.offset;
  }
  // No two tensors may overlap (unknown-type tensors count as zero-sized at their offset).
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return tensors_[a].offset != tensors_[b].offset ? tensors_[a].offset < tensors_[b].offset : a < b;
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const auto& prev = tensors_[order[k - 1]];
    const auto& cur = tensors_[order[k]];
    if (prev.offset + prev.size_bytes > cur.offset && prev.size_bytes > 0 && cur.size_bytes > 0)
      return CorruptionError("tensor '" + cur.name + "' at data offset " + std::to_string(cur.offset) +
                             " overlaps tensor '" + prev.name + "' [" + std::to_string(prev.offset) + ", " +
                             std::to_string(prev.offset + prev.size_bytes) + ")");
  }
  return Status::OK();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
Result<const GgufValue*> Lookup(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.Find(key);
  if (!v) return NotFoundError("metadata key '" + std::string(key) + "' not found");
  return v;
}
}  // namespace

Result<std::string_view> GgufFile::GetString(std::string_view key) const {
  SKV_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(*this, key));
  if (v->type() != GgufValueType::kString) return InvalidArgumentError(TypeMismatch(key, *v, "string"));
  return v->AsString();
}

Result<uint64_t> GgufFile::GetU64(std::string_view key) const {
  SKV_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(*this, key));
  auto u = v->AsUint64();
  if (!v->is_integer() || !u) return InvalidArgumentError(TypeMismatch(key, *v, "a non-negative integer") + " (value " + v->DebugString() + ")");
  return *u;
}

Result<uint32_t> GgufFile::GetU32(std::string_view key) const {
  SKV_ASSIGN_OR_RETURN(uint64_t u, GetU64(key));
  if (u > std::numeric_limits<uint32_t>::max())
    return InvalidArgumentError("metadata key '" + std::string(key) + "' value " + std::to_string(u) + " does not fit in u32");
  return static_cast<uint32_t>(u);
}

Result<int32_t> GgufFile::GetI32(std::string_view key) const {
  SKV_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(*this, key));
  auto i = v->AsInt64();
  if (!v->is_integer() || !i || *i < std::numeric_limits<int32_t>::min() || *i > std::numeric_limits<int32_t>::max())
    return InvalidArgumentError(TypeMismatch(key, *v, "an integer fitting i32") + " (value " + v->DebugString() + ")");
  return static_cast<int32_t>(*i);
}

Result<float> GgufFile::GetF32(std::string_view key) const {
  SKV_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(*this, key));
  if (v->type() != GgufValueType::kF32 && v->type() != GgufValueType::kF64)
    return InvalidArgumentError(TypeMismatch(key, *v, "f32"));
  return static_cast<float>(*v->AsDouble());
}

Result<bool> GgufFile::GetBool(std::string_view key) const {
  SKV_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(*this, key));
  if (v->type() != GgufValueType::kBool) return InvalidArgumentError(TypeMismatch(key, *v, "bool"));
  return v->AsBool();
}

Result<std::vector<std::string_view>> GgufFile::GetStringArray(std::string_view key) const {
  SKV_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(*this, key));
  if (!v->is_array() || v->array_type() != GgufValueType::kString)
    return InvalidArgumentError(TypeMismatch(key, *v, "array of string"));
  std::vector<std::string_view> out;
  out.reserve(v->array_size());
  // Walk the validated encoding directly: u64 length + bytes per element.
  const uint8_t* p = v->array_bytes().data();
  for (uint64_t i = 0; i < v->array_size(); ++i) {
    uint64_t len = LoadLE<uint64_t>(p);
    out.emplace_back(reinterpret_cast<const char*>(p + 8), len);
    p += 8 + len;
  }
  return out;
}

Result<std::vector<float>> GgufFile::GetF32Array(std::string_view key) const {
  SKV_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(*this, key));
  if (!v->is_array() || (v->array_type() != GgufValueType::kF32 && v->array_type() != GgufValueType::kF64))
    return InvalidArgumentError(TypeMismatch(key, *v, "array of f32"));
  std::vector<float> out(v->array_size());
  for (uint64_t i = 0; i < v->array_size(); ++i) out[i] = static_cast<float>(*v->FixedElement(i).AsDouble());
  return out;
}

Result<std::vector<int32_t>> GgufFile::GetI32Array(std::string_view key) const {
  SKV_ASSIGN_OR_RETURN(const GgufValue* v, Lookup(*this, key));
  if (!v->is_array() || !GgufIsInteger(v->array_type()))
    return InvalidArgumentError(TypeMismatch(key, *v, "array of integers"));
  std::vector<int32_t> out(v->array_size());
  for (uint64_t i = 0; i < v->array_size(); ++i) {
    auto x = v->FixedElement(i).AsInt64();
    if (!x || *x < std::numeric_limits<int32_t>::min() || *x > std::numeric_limits<int32_t>::max())
      return InvalidArgumentError("metadata key '" + std::string(key) + "' element " + std::to_string(i) +
                                  " does not fit in i32");
    out[i] = static_cast<int32_t>(*x);
  }
  return out;
}

std::string GgufFile::DebugString() const {
  return "GgufFile{path=" + path_ + ", version=" + std::to_string(version_) + ", " +
         std::to_string(metadata_.size()) + " keys, " + std::to_string(tensors_.size()) +
         " tensors, alignment=" + std::to_string(alignment_) + ", data_offset=" + std::to_string(data_offset_) + "}";
}

}  // namespace swarmkv
