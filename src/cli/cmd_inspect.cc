// `swarmkv inspect FILE.gguf [--json]`: a GGUF file's header, metadata and tensor table, with long
// arrays abbreviated (first few elements + count). With a supported architecture it also prints
// the hyper-parameters swarmkv reads (or why they cannot be read).
#include <iostream>

#include <nlohmann/json.hpp>

#include "base/units.h"
#include "cli/command.h"
#include "gguf/gguf_file.h"
#include "model/hparams.h"

namespace swarmkv::cli {
namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  size_t max_items = 8;
};

nlohmann::json ValueJson(const GgufValue& v, size_t max_items) {
  switch (v.type()) {
    case GgufValueType::kString: return std::string(v.AsString());
    case GgufValueType::kBool: return v.AsBool();
    case GgufValueType::kF32:
    case GgufValueType::kF64: return *v.AsDouble();
    case GgufValueType::kArray: {
      nlohmann::json j;
      j["type"] = "array";
      j["element_type"] = GgufValueTypeName(v.array_type());
      j["count"] = v.array_size();
      nlohmann::json items = nlohmann::json::array();
      if (GgufFixedSize(v.array_type()) > 0) {
        for (uint64_t i = 0; i < v.array_size() && i < max_items; ++i) items.push_back(ValueJson(v.FixedElement(i), max_items));
      } else {
        auto elems = v.ArrayElements();
        for (size_t i = 0; i < elems.size() && i < max_items; ++i) items.push_back(ValueJson(elems[i], max_items));
      }
      j["first"] = items;
      return j;
    }
    default:
      if (v.type() == GgufValueType::kU64) return *v.AsUint64();
      return *v.AsInt64();
  }
}

std::string Shape(const std::vector<uint64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? " x " : "") + std::to_string(s[i]);
  return out;
}

int RunInspect(const InspectOptions& o) {
  auto file = GgufFile::Open(o.path);
  if (!file.ok()) {
    std::cerr << "swarmkv inspect: " << file.status().ToString() << "\n";
    return 1;
  }
  const GgufFile& f = **file;
  auto hp = ModelHParams::FromGguf(f);
  if (o.json) {
    nlohmann::json j;
    j["path"] = o.path;
    j["version"] = f.version();
    j["alignment"] = f.alignment();
    j["file_size"] = f.file_size();
    j["data_offset"] = f.data_offset();
    nlohmann::json meta = nlohmann::json::array();
    for (const auto& [k, v] : f.metadata())
      meta.push_back({{"key", k}, {"type", GgufValueTypeName(v.type())}, {"value", ValueJson(v, o.max_items)}});
    j["metadata"] = meta;
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : f.tensors())
      tensors.push_back({{"name", t.name},
                         {"type", TensorTypeName(t.type_id)},
                         {"shape", t.shape},
                         {"offset", t.offset},
                         {"size_bytes", t.size_bytes}});
    j["tensors"] = tensors;
    if (hp.ok()) {
      j["hparams"] = hp->DebugString();
    } else {
      j["hparams_error"] = hp.status().ToString();
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << o.path << ": GGUF v" << f.version() << ", " << FormatBytes(f.file_size()) << ", alignment "
            << f.alignment() << ", data at byte " << f.data_offset() << "\n\n";
  std::cout << f.metadata().size() << " metadata keys:\n";
  for (const auto& [k, v] : f.metadata()) {
    std::string type = GgufValueTypeName(v.type());
    if (v.is_array()) type += "<" + GgufValueTypeName(v.array_type()) + ">";
    std::string value = v.DebugString(o.max_items);
    if (value.size() > 400) value = value.substr(0, 400) + "...";
    std::cout << "  " << k << " (" << type << ") = " << value << "\n";
  }
  uint64_t total = 0;
  std::cout << "\n" << f.tensors().size() << " tensors:\n";
  for (const auto& t : f.tensors()) {
    std::printf("  %-32s %-6s %-20s offset %-12llu %s\n", t.name.c_str(), TensorTypeName(t.type_id).c_str(),
                Shape(t.shape).c_str(), static_cast<unsigned long long>(t.offset),
                t.type_known ? FormatBytes(t.size_bytes).c_str() : "unknown size");
    total += t.size_bytes;
  }
  std::cout << "  total tensor data: " << FormatBytes(total) << "\n\n";
  if (hp.ok()) {
    std::cout << "hparams: " << hp->DebugString() << "\n";
  } else {
    std::cout << "hparams: not a supported model: " << hp.status().ToString() << "\n";
  }
  return 0;
}

CommandRegistrar reg("inspect", "Show a GGUF file's metadata and tensor table", [](CLI::App& app) -> CommandRun {
  auto o = std::make_shared<InspectOptions>();
  app.add_option("file", o->path, "GGUF file")->required();
  app.add_flag("--json", o->json, "Print JSON instead of text");
  app.add_option("--max-items", o->max_items, "Array elements shown before abbreviating")->capture_default_str();
  return [o] { return RunInspect(*o); };
});

}  // namespace
}  // namespace swarmkv::cli
