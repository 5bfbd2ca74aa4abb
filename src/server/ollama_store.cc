#include "server/ollama_store.h"

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/env.h"

namespace swarmkv {

namespace {

constexpr const char* kModelLayer = "application/vnd.ollama.image.model";
constexpr const char* kTemplateLayer = "application/vnd.ollama.image.template";
constexpr const char* kSystemLayer = "application/vnd.ollama.image.system";
constexpr const char* kParamsLayer = "application/vnd.ollama.image.params";
constexpr size_t kMaxSmallLayerBytes = 1 << 20;

// "sha256:<64 hex>" -> "<root>/blobs/sha256-<hex>", or an error naming the digest.
Result<std::string> BlobPath(const std::string& root, const std::string& digest) {
  if (digest.size() != 7 + 64 || digest.compare(0, 7, "sha256:") != 0)
    return CorruptionError("layer digest '" + digest + "' is not sha256:<64 hex digits>");
  for (size_t i = 7; i < digest.size(); ++i)
    if (!std::isxdigit(static_cast<unsigned char>(digest[i])))
      return CorruptionError("layer digest '" + digest + "' is not hex");
  return JoinPath(JoinPath(root, "blobs"), "sha256-" + digest.substr(7));
}

// The Ollama display name for manifests/<host>/<ns>/<model>/<tag>.
std::string DisplayName(const std::string& host, const std::string& ns, const std::string& model,
                        const std::string& tag) {
  if (host == "registry.ollama.ai") {
    if (ns == "library") return model + ":" + tag;
    return ns + "/" + model + ":" + tag;
  }
  return host + "/" + ns + "/" + model + ":" + tag;
}

}  // namespace

std::string DefaultOllamaStore() {
  if (const char* v = std::getenv("OLLAMA_MODELS"); v && *v) return v;
  if (const char* h = std::getenv("HOME"); h && *h) return JoinPath(JoinPath(h, ".ollama"), "models");
  return "";
}

Result<ModelEntry> ParseOllamaManifest(const std::string& root, const std::string& name,
                                       const std::string& manifest_json) {
  nlohmann::json m = nlohmann::json::parse(manifest_json, nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded() || !m.is_object()) return CorruptionError("manifest of '" + name + "' is not a JSON object");
  auto layers = m.find("layers");
  if (layers == m.end() || !layers->is_array())
    return CorruptionError("manifest of '" + name + "' has no \"layers\" array");
  Env* env = Env::Default();
  ModelEntry e;
  e.name = name;
  e.source = "ollama";
  for (const auto& layer : *layers) {
    if (!layer.is_object() || !layer.contains("mediaType") || !layer["mediaType"].is_string() ||
        !layer.contains("digest") || !layer["digest"].is_string())
      return CorruptionError("manifest of '" + name + "' has a layer without string mediaType/digest");
    std::string type = layer["mediaType"];
    std::string digest = layer["digest"];
    bool small = type == kTemplateLayer || type == kSystemLayer || type == kParamsLayer;
    if (type != kModelLayer && !small) continue;  // license, adapter, projector...: not used
    SKV_ASSIGN_OR_RETURN(std::string path, BlobPath(root, digest));
    auto st = env->Stat(path);
    if (!st.ok())
      return NotFoundError("manifest of '" + name + "' names blob " + path + ", which does not exist");
    const FileInfo info = *st;
    if (type == kModelLayer) {
      if (!e.weights_path.empty())
        return UnimplementedError("manifest of '" + name + "' has more than one model layer");
      e.weights_path = path;
      e.digest = digest;
      e.size_bytes = info.size_bytes;
      e.modified_unix_s = info.mtime_ns / 1000000000;
      continue;
    }
    if (info.size_bytes > kMaxSmallLayerBytes)
      return CorruptionError("layer " + type + " of '" + name + "' is " + std::to_string(info.size_bytes) +
                             " bytes, more than a text layer should be");
    SKV_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
    if (type == kTemplateLayer) e.template_text = text;
    else if (type == kSystemLayer) e.system = text;
    else e.params_json = text;
  }
  if (e.weights_path.empty()) return CorruptionError("manifest of '" + name + "' has no model layer");
  std::error_code ec;
  auto canon = std::filesystem::canonical(e.weights_path, ec);
  e.weights_key = ec ? e.weights_path : canon.string();
  return e;
}

OllamaScan ScanOllamaStore(const std::string& root) {
  OllamaScan scan;
  Env* env = Env::Default();
  std::string manifests = JoinPath(root, "manifests");
  if (root.empty() || !env->FileExists(manifests)) return scan;
  // manifests/<host>/<ns>/<model>/<tag>: a fixed depth of four.
  auto list_dirs = [&](const std::string& dir) {
    std::vector<std::string> out;
    auto names = env->ListDir(dir);
    if (!names.ok()) return out;
    for (auto& n : *names) {
      auto st = env->Stat(JoinPath(dir, n));
      if (st.ok() && st->is_dir) out.push_back(n);
    }
    return out;
  };
  for (const auto& host : list_dirs(manifests)) {
    std::string hd = JoinPath(manifests, host);
    for (const auto& ns : list_dirs(hd)) {
      std::string nd = JoinPath(hd, ns);
      for (const auto& model : list_dirs(nd)) {
        std::string md = JoinPath(nd, model);
        auto tags = env->ListDir(md);
        if (!tags.ok()) continue;
        for (const auto& tag : *tags) {
          std::string path = JoinPath(md, tag);
          std::string name = DisplayName(host, ns, model, tag);
          auto text = env->ReadFile(path);
          if (!text.ok()) {
            scan.warnings.push_back("ollama store: skipping " + path + ": " + text.status().ToString());
            continue;
          }
          auto entry = ParseOllamaManifest(root, name, *text);
          if (!entry.ok()) {
            scan.warnings.push_back("ollama store: skipping " + path + ": " + entry.status().ToString());
            continue;
          }
          scan.models.push_back(std::move(entry).value());
        }
      }
    }
  }
  return scan;
}

}  // namespace swarmkv
