#include "gguf/gguf_writer.h"

#include <cstring>

#include "gguf/gguf_file.h"
#include "gguf/tensor_type.h"

namespace swarmkv {
namespace {

// Counts bytes delivered for one tensor and forwards them to the file.
class FileSink : public GgufTensorSink {
 public:
  FileSink(WritableFile* file, const GgufWriterTensor& t) : file_(file), t_(t) {}
  Status Append(std::span<const uint8_t> bytes) override {
    if (bytes.size() > t_.size_bytes - written_)
      return InvalidArgumentError("tensor '" + t_.name + "': " + std::to_string(written_ + bytes.size()) +
                                  " bytes delivered, declared size is " + std::to_string(t_.size_bytes));
    written_ += bytes.size();
    return file_->Append(bytes);
  }
  uint64_t written() const { return written_; }

 private:
  WritableFile* file_;
  const GgufWriterTensor& t_;
  uint64_t written_ = 0;
};

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void GgufWriter::PutBytes(const void* p, size_t n) { kv_bytes_.append(static_cast<const char*>(p), n); }
void GgufWriter::PutU32(uint32_t v) { PutBytes(&v, 4); }
void GgufWriter::PutU64(uint64_t v) { PutBytes(&v, 8); }
void GgufWriter::PutString(std::string_view s) {
  PutU64(s.size());
  PutBytes(s.data(), s.size());
}

void GgufWriter::BeginKey(std::string_view key, GgufValueType type) {
  if (!keys_.insert(std::string(key)).second && error_.ok())
    error_ = InvalidArgumentError("metadata key '" + std::string(key) + "' set twice");
  PutString(key);
  PutU32(static_cast<uint32_t>(type));
  ++num_kv_;
}

void GgufWriter::SetU8(std::string_view key, uint8_t v) { BeginKey(key, GgufValueType::kU8); PutBytes(&v, 1); }
void GgufWriter::SetU32(std::string_view key, uint32_t v) {
  BeginKey(key, GgufValueType::kU32);
  PutU32(v);
  if (key == "general.alignment") alignment_ = v;
}
void GgufWriter::SetI32(std::string_view key, int32_t v) { BeginKey(key, GgufValueType::kI32); PutBytes(&v, 4); }
void GgufWriter::SetU64(std::string_view key, uint64_t v) { BeginKey(key, GgufValueType::kU64); PutU64(v); }
void GgufWriter::SetF32(std::string_view key, float v) { BeginKey(key, GgufValueType::kF32); PutBytes(&v, 4); }
void GgufWriter::SetBool(std::string_view key, bool v) {
  BeginKey(key, GgufValueType::kBool);
  uint8_t b = v ? 1 : 0;
  PutBytes(&b, 1);
}
void GgufWriter::SetString(std::string_view key, std::string_view v) { BeginKey(key, GgufValueType::kString); PutString(v); }

void GgufWriter::SetStringArray(std::string_view key, const std::vector<std::string>& v) {
  BeginKey(key, GgufValueType::kArray);
  PutU32(static_cast<uint32_t>(GgufValueType::kString));
  PutU64(v.size());
  for (const auto& s : v) PutString(s);
}
void GgufWriter::SetF32Array(std::string_view key, std::span<const float> v) {
  BeginKey(key, GgufValueType::kArray);
  PutU32(static_cast<uint32_t>(GgufValueType::kF32));
  PutU64(v.size());
  PutBytes(v.data(), v.size_bytes());
}
void GgufWriter::SetI32Array(std::string_view key, std::span<const int32_t> v) {
  BeginKey(key, GgufValueType::kArray);
  PutU32(static_cast<uint32_t>(GgufValueType::kI32));
  PutU64(v.size());
  PutBytes(v.data(), v.size_bytes());
}

void GgufWriter::SetValue(std::string_view key, const GgufValue& v) {
  BeginKey(key, v.type());
  if (v.type() == GgufValueType::kString) {
    PutString(v.AsString());
  } else if (v.is_array()) {
    PutU32(static_cast<uint32_t>(v.array_type()));
    PutU64(v.array_size());
    PutBytes(v.array_bytes().data(), v.array_bytes().size());
  } else {
    size_t n = GgufFixedSize(v.type());
    uint64_t bits = v.type() == GgufValueType::kU64 ? *v.AsUint64() : 0;
    if (v.type() == GgufValueType::kF32) {
      float f = static_cast<float>(*v.AsDouble());
      std::memcpy(&bits, &f, 4);
    } else if (v.type() == GgufValueType::kF64) {
      double d = *v.AsDouble();
      std::memcpy(&bits, &d, 8);
    } else if (v.type() == GgufValueType::kBool) {
      bits = v.AsBool() ? 1 : 0;
    } else if (v.type() != GgufValueType::kU64) {
      bits = static_cast<uint64_t>(*v.AsInt64());
    }
    PutBytes(&bits, n);  // little-endian host: the low n bytes
    if (key == "general.alignment" && v.AsUint64()) alignment_ = *v.AsUint64();
  }
}

Status GgufWriter::AddTensor(std::string_view name, uint32_t type_id, std::vector<uint64_t> shape) {
  std::string what = "tensor '" + std::string(name) + "'";
  if (shape.empty() || shape.size() > static_cast<size_t>(kGgufMaxDims))
    return InvalidArgumentError(what + ": " + std::to_string(shape.size()) + " dimensions (must be 1..4)");
  auto traits = GetTensorTypeTraits(type_id);
  if (!traits) return InvalidArgumentError(what + ": unknown tensor type " + std::to_string(type_id));
  uint64_t elems = 1;
  for (uint64_t d : shape) elems *= d;
  if (shape[0] % traits->block_size != 0)
    return InvalidArgumentError(what + ": row length " + std::to_string(shape[0]) + " is not a multiple of " +
                                std::string(traits->name) + "'s block size " + std::to_string(traits->block_size));
  if (!tensor_names_.insert(std::string(name)).second) return InvalidArgumentError(what + " declared twice");
  GgufWriterTensor t;
  t.name = std::string(name);
  t.type_id = type_id;
  t.shape = std::move(shape);
  t.size_bytes = elems / traits->block_size * traits->type_size;
  tensors_.push_back(std::move(t));
  return Status::OK();
}

Status GgufWriter::Write(const std::string& path, const FillFn& fill, Env* env) const {
  SKV_RETURN_IF_ERROR(error_);
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0)
    return InvalidArgumentError("general.alignment " + std::to_string(alignment_) + " is not a power of two");
  // Header: magic, version, counts, key/values, tensor infos; then padding to the alignment.
  std::vector<GgufWriterTensor> tensors = tensors_;
  std::string header;
  auto put = [&](const void* p, size_t n) { header.append(static_cast<const char*>(p), n); };
  uint32_t magic = kGgufMagic, version = 3;
  uint64_t n_tensors = tensors.size();
  put(&magic, 4);
  put(&version, 4);
  put(&n_tensors, 8);
  put(&num_kv_, 8);
  header += kv_bytes_;
  uint64_t offset = 0;
  for (auto& t : tensors) {
    t.offset = offset;
    offset = AlignUp(offset + t.size_bytes, alignment_);
    uint64_t len = t.name.size();
    put(&len, 8);
    header += t.name;
    uint32_t n_dims = static_cast<uint32_t>(t.shape.size());
    put(&n_dims, 4);
    for (uint64_t d : t.shape) put(&d, 8);
    put(&t.type_id, 4);
    put(&t.offset, 8);
  }
  header.resize(AlignUp(header.size(), alignment_), '\0');

  const std::string tmp = path + ".tmp";
  SKV_ASSIGN_OR_RETURN(auto file, env->NewWritableFile(tmp));
  auto fail = [&](const Status& s) {
    file->Close().IgnoreError();
    env->DeleteFile(tmp).IgnoreError();
    return s.WithContext("writing GGUF '" + path + "'");
  };
  Status s = file->Append(header);
  if (!s.ok()) return fail(s);
  static const uint8_t kZeros[4096] = {};
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    FileSink sink(file.get(), t);
    s = fill(i, t, sink);
    if (!s.ok()) return fail(s);
    if (sink.written() != t.size_bytes)
      return fail(InvalidArgumentError("tensor '" + t.name + "': " + std::to_string(sink.written()) +
                                       " bytes delivered, declared size is " + std::to_string(t.size_bytes)));
    // Pad to the next tensor (none after the last one).
    if (i + 1 < tensors.size()) {
      uint64_t pad = tensors[i + 1].offset - (t.offset + t.size_bytes);
      while (pad > 0) {
        uint64_t n = std::min<uint64_t>(pad, sizeof(kZeros));
        s = file->Append(std::span<const uint8_t>(kZeros, n));
        if (!s.ok()) return fail(s);
        pad -= n;
      }
    }
  }
  s = file->Close();
  if (!s.ok()) return fail(s);
  s = env->RenameFile(tmp, path);
  if (!s.ok()) return fail(s);
  return Status::OK();
}

}  // namespace swarmkv
