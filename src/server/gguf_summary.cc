#include "server/gguf_summary.h"

#include <cctype>
#include <cstdio>

#include "base/logging.h"
#include "gguf/gguf_file.h"
#include "gguf/tensor_type.h"

namespace swarmkv {

namespace {

// llama.cpp's LLAMA_FTYPE values for the common files (general.file_type).
std::string FileTypeName(uint32_t ftype) {
  switch (ftype) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K_S";
    case 12: return "Q3_K_M";
    case 13: return "Q3_K_L";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 25: return "IQ4_NL";  // issue 18's weight types
    case 30: return "IQ4_XS";
    case 32: return "BF16";
    case 38: return "MXFP4";
    default: return "";
  }
}

nlohmann::json ValueToJson(const GgufValue& v) {
  if (v.is_array()) return nullptr;
  if (v.type() == GgufValueType::kString) return std::string(v.AsString());
  if (v.type() == GgufValueType::kBool) return v.AsBool();
  if (v.is_integer()) {
    if (auto i = v.AsInt64()) return *i;
    if (auto u = v.AsUint64()) return *u;
  }
  if (auto d = v.AsDouble()) return *d;
  return nullptr;
}

}  // namespace

std::string FormatParameterCount(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull) std::snprintf(buf, sizeof(buf), "%.1fB", static_cast<double>(n) / 1e9);
  else if (n >= 1000000ull) std::snprintf(buf, sizeof(buf), "%.1fM", static_cast<double>(n) / 1e6);
  else if (n >= 1000ull) std::snprintf(buf, sizeof(buf), "%.0fK", static_cast<double>(n) / 1e3);
  else std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(n));
  return buf;
}

Result<GgufSummary> SummarizeGguf(const std::string& path) {
  SKV_ASSIGN_OR_RETURN(auto file, GgufFile::Open(path));
  GgufSummary s;
  s.model_info = nlohmann::json::object();
  for (const auto& [key, value] : file->metadata()) s.model_info[key] = ValueToJson(value);
  if (auto a = file->GetString("general.architecture"); a.ok()) s.architecture = std::string(*a);
  if (auto t = file->GetString("tokenizer.chat_template"); t.ok()) s.chat_template = std::string(*t);
  if (!s.architecture.empty())
    if (auto c = file->GetU64(s.architecture + ".context_length"); c.ok()) s.context_length = static_cast<int64_t>(*c);
  std::map<uint32_t, uint64_t> elements_by_type;
  for (const auto& t : file->tensors()) {
    s.parameter_count += t.num_elements;
    if (t.shape.size() >= 2) elements_by_type[t.type_id] += t.num_elements;
  }
  if (auto ft = file->GetU32("general.file_type"); ft.ok()) s.quantization_level = FileTypeName(*ft);
  if (s.quantization_level.empty() && !elements_by_type.empty()) {
    auto best = elements_by_type.begin();
    for (auto it = elements_by_type.begin(); it != elements_by_type.end(); ++it)
      if (it->second > best->second) best = it;
    s.quantization_level = TensorTypeName(best->first);
    for (auto& c : s.quantization_level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  s.parameter_size = FormatParameterCount(s.parameter_count);
  s.model_info["general.parameter_count"] = s.parameter_count;
  return s;
}

Result<std::shared_ptr<const GgufSummary>> GgufSummaryCache::Get(const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(path);
    if (it != cache_.end()) return it->second;
  }
  auto s = SummarizeGguf(path);
  if (!s.ok()) SKV_LOG(WARN) << "model file " << path << " cannot be served: " << s.status().ToString();
  Result<std::shared_ptr<const GgufSummary>> r =
      s.ok() ? Result<std::shared_ptr<const GgufSummary>>(std::make_shared<const GgufSummary>(std::move(s).value()))
             : Result<std::shared_ptr<const GgufSummary>>(s.status());
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.emplace(path, r).first->second;
}

}  // namespace swarmkv
