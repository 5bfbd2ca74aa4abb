// GgufSummary: what /api/show and /api/tags say about a model, read from its GGUF header without
// loading the model (the gguf module's validated reader; the mapping is dropped afterwards).
//
// model_info holds every scalar metadata key (arrays such as the token list appear as null, as
// Ollama's non-verbose /api/show does) plus general.parameter_count.
//
// Thread-safety: SummarizeGguf is a pure function; GgufSummaryCache is thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace swarmkv {

struct GgufSummary {
  std::string architecture;        // general.architecture
  std::string chat_template;       // tokenizer.chat_template ("" when absent)
  std::string quantization_level;  // from general.file_type, else the dominant tensor type
  uint64_t parameter_count = 0;    // sum of tensor elements
  std::string parameter_size;      // "260K", "135M", "7.2B"
  int64_t context_length = 0;      // <arch>.context_length (0 when absent)
  nlohmann::json model_info;
};

Result<GgufSummary> SummarizeGguf(const std::string& path);
// 260000 -> "260K"; 134515008 -> "134.5M"; 7241732096 -> "7.2B".
std::string FormatParameterCount(uint64_t n);

// Summaries by weights file, computed once (errors are cached too: a broken file stays broken
// until the server restarts, and its error is logged once, with the path).
class GgufSummaryCache {
 public:
  Result<std::shared_ptr<const GgufSummary>> Get(const std::string& path);

 private:
  std::mutex mu_;
  std::map<std::string, Result<std::shared_ptr<const GgufSummary>>> cache_;
};

}  // namespace swarmkv
