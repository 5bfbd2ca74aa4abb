#include "server/model_registry.h"

#include <filesystem>
#include <sstream>

#include "base/env.h"
#include "base/logging.h"
#include "server/ollama_store.h"

namespace swarmkv {

namespace {

Result<ModelEntry> EntryForFile(const std::string& name, const std::string& path, const std::string& source) {
  auto st = Env::Default()->Stat(path);
  if (!st.ok()) return NotFoundError("model '" + name + "': " + st.status().message());
  if (st->is_dir) return InvalidArgumentError("model '" + name + "': " + path + " is a directory, not a GGUF file");
  ModelEntry e;
  e.name = NormalizeModelName(name);
  e.weights_path = path;
  std::error_code ec;
  auto canon = std::filesystem::canonical(path, ec);
  e.weights_key = ec ? path : canon.string();
  e.size_bytes = st->size_bytes;
  e.modified_unix_s = st->mtime_ns / 1000000000;
  e.source = source;
  return e;
}

}  // namespace

std::string NormalizeModelName(const std::string& name) {
  if (name.empty()) return name;
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return name + ":latest";
  return name;
}

Status ModelRegistry::Add(ModelEntry entry) {
  if (entry.name.empty()) return InvalidArgumentError("model entry without a name");
  entry.name = NormalizeModelName(entry.name);
  entries_.emplace(entry.name, std::move(entry));
  return Status::OK();
}

Result<ModelRegistry> ModelRegistry::Build(const ModelRegistryOptions& options) {
  ModelRegistry reg;
  for (const auto& flag : options.model_flags) {
    size_t eq = flag.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size())
      return InvalidArgumentError("--model '" + flag + "': expected NAME=PATH");
    std::string name = flag.substr(0, eq);
    if (reg.Find(name) != nullptr) return InvalidArgumentError("--model '" + name + "' given twice");
    SKV_ASSIGN_OR_RETURN(ModelEntry e, EntryForFile(name, flag.substr(eq + 1), "flag"));
    SKV_RETURN_IF_ERROR(reg.Add(std::move(e)));
  }
  if (!options.models_dir.empty()) {
    auto names = Env::Default()->ListDir(options.models_dir);
    if (!names.ok()) return names.status().WithContext("--models");
    for (const auto& file : *names) {
      if (file.size() <= 5 || file.compare(file.size() - 5, 5, ".gguf") != 0) continue;
      std::string name = file.substr(0, file.size() - 5);
      if (reg.Find(name) != nullptr) continue;
      SKV_ASSIGN_OR_RETURN(ModelEntry e, EntryForFile(name, JoinPath(options.models_dir, file), "dir"));
      SKV_RETURN_IF_ERROR(reg.Add(std::move(e)));
    }
  }
  if (!options.ollama_dir.empty()) {
    OllamaScan scan = ScanOllamaStore(options.ollama_dir);
    for (const auto& w : scan.warnings) SKV_LOG(WARN) << w;
    for (auto& e : scan.models) {
      if (reg.Find(e.name) != nullptr) continue;
      SKV_RETURN_IF_ERROR(reg.Add(std::move(e)));
    }
  }
  return reg;
}

const ModelEntry* ModelRegistry::Find(const std::string& name) const {
  auto it = entries_.find(NormalizeModelName(name));
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<const ModelEntry*> ModelRegistry::List() const {
  std::vector<const ModelEntry*> out;
  for (const auto& [name, e] : entries_) out.push_back(&e);
  return out;
}

std::vector<std::string> ModelRegistry::NamesForWeights(const std::string& weights_key) const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_)
    if (e.weights_key == weights_key) out.push_back(name);
  return out;
}

std::string ModelRegistry::DebugString() const {
  std::ostringstream os;
  for (const auto& [name, e] : entries_) os << name << " -> " << e.weights_path << " (" << e.source << ")\n";
  return os.str();
}

}  // namespace swarmkv
