#include "server/unsupported_fields.h"

#include <set>
#include <string>

#include "base/logging.h"

namespace swarmkv {

namespace {

using json = nlohmann::json;

bool Present(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && !it->is_null();
}

// Ollama's runner options: they place or batch the work, never change the tokens. Accepted.
const std::set<std::string>& HardwareOptions() {
  static const std::set<std::string> s = {"numa", "num_batch", "num_gpu", "main_gpu", "use_mmap", "use_mlock",
                                          "num_thread", "low_vram", "f16_kv", "vocab_only", "logits_all"};
  return s;
}

// Every option docs/api.md of Ollama lists (the Modelfile parameters and the runner's).
const std::set<std::string>& KnownOptions() {
  static const std::set<std::string> s = {"num_keep", "seed", "num_predict", "top_k", "top_p", "min_p", "typical_p",
                                          "repeat_last_n", "temperature", "repeat_penalty", "presence_penalty",
                                          "frequency_penalty", "penalize_newline", "stop", "num_ctx", "mirostat",
                                          "mirostat_tau", "mirostat_eta", "tfs_z"};
  return s;
}

Status CheckOllama(const json& body, const std::string& model) {
  auto opts = body.find("options");
  if (opts == body.end() || !opts->is_object()) return Status::OK();
  for (const auto& [key, value] : opts->items()) {
    if (value.is_null() || HardwareOptions().count(key) > 0) continue;
    if (key == "typical_p") {
      if (!value.is_number() || value.get<double>() != 1.0)
        return UnimplementedError("field 'options.typical_p': locally typical sampling is not implemented (1.0 = off)");
    } else if (key == "mirostat") {
      if (!value.is_number_integer() || value.get<int64_t>() != 0)
        return UnimplementedError("field 'options.mirostat': Mirostat sampling is not implemented (0 = off)");
    } else if (key == "tfs_z") {
      if (!value.is_number() || value.get<double>() != 1.0)
        return UnimplementedError("field 'options.tfs_z': tail-free sampling is not implemented (1.0 = off)");
    } else if (KnownOptions().count(key) == 0) {
      // Ollama logs and ignores an option it does not know; so does swarmkv.
      SKV_LOG(WARN) << "invalid option provided: options." << key;
    }
  }
  return Status::OK();
}

Status CheckOpenAI(const json& body) {
  if (Present(body, "logit_bias") && !(body["logit_bias"].is_object() && body["logit_bias"].empty()))
    return UnimplementedError("field 'logit_bias' is not supported");
  if (Present(body, "audio")) return UnimplementedError("field 'audio': this server runs text models only");
  if (Present(body, "modalities")) {
    for (const auto& m : body["modalities"])
      if (!(m.is_string() && m == "text"))
        return UnimplementedError("field 'modalities': only \"text\" is supported");
  }
  if (Present(body, "prediction")) return UnimplementedError("field 'prediction' (predicted outputs) is not supported");
  if (Present(body, "reasoning"))
    return InvalidArgumentError("field 'reasoning' is not supported; use 'reasoning_effort'");
  if (Present(body, "web_search_options")) return UnimplementedError("field 'web_search_options' is not supported");
  if (Present(body, "best_of") && !(body["best_of"].is_number_integer() && body["best_of"] == 1))
    return UnimplementedError("field 'best_of': only 1 is supported");
  return Status::OK();
}

}  // namespace

Status CheckUnsupportedFields(ApiKind kind, const json& body, const std::string& model_name) {
  if (!body.is_object()) return Status::OK();  // ParseApiRequest reports it
  if (kind == ApiKind::kOllamaGenerate || kind == ApiKind::kOllamaChat) return CheckOllama(body, model_name);
  return CheckOpenAI(body);
}

}  // namespace swarmkv
