// The model registry: which names the server answers to and which GGUF file each one means.
//
// Sources, in precedence order when two define the same name: `--model NAME=PATH` flags, then
// `--models DIR` (every *.gguf, named by its file name without .gguf), then an Ollama model store
// read in place (manifests -> blobs; see ollama_store.h). Names are normalised to "name:tag" with
// the default tag "latest", so "llama3" and "llama3:latest" are one entry.
//
// Invariant: every entry's weights_path existed when the registry was built; weights_key is the
// canonical (realpath) weights file, so names that resolve to the same weights have equal keys
// and share one loaded model, hence one KV namespace.
//
// Thread-safety: immutable after Build(); all const methods are safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace swarmkv {

struct ModelEntry {
  std::string name;          // "llama3:latest"
  std::string weights_path;  // the GGUF file (an Ollama blob for store models)
  std::string weights_key;   // realpath(weights_path): equal keys <=> same weights
  std::string digest;        // "sha256:<hex>" for Ollama blobs, else "" (computed lazily by nobody)
  uint64_t size_bytes = 0;
  int64_t modified_unix_s = 0;
  std::string source;        // "flag", "dir", "ollama"
  // From the Ollama store's layers (empty otherwise).
  std::string system;        // the system prompt layer
  std::string template_text; // the Go template layer (shown by /api/show; not executed)
  std::string params_json;   // the params layer (default options)
};

struct ModelRegistryOptions {
  std::vector<std::string> model_flags;  // "NAME=PATH"
  std::string models_dir;                // "" => none
  std::string ollama_dir;                // "" => none (cmd_serve fills $OLLAMA_MODELS or ~/.ollama/models)
};

// "llama3" -> "llama3:latest"; "ns/m:q4" unchanged. "" stays "".
std::string NormalizeModelName(const std::string& name);

class ModelRegistry {
 public:
  // Errors: a malformed --model flag, a missing file, an unreadable --models dir. A broken
  // Ollama manifest is skipped with a warning (one bad pull must not stop the server).
  static Result<ModelRegistry> Build(const ModelRegistryOptions& options);

  // nullptr when unknown. Accepts "name", "name:tag", or the name of a --model/--models entry.
  const ModelEntry* Find(const std::string& name) const;
  // Sorted by name.
  std::vector<const ModelEntry*> List() const;
  // All names sharing the weights of `weights_key`.
  std::vector<std::string> NamesForWeights(const std::string& weights_key) const;
  size_t size() const { return entries_.size(); }

  // Adds one entry (used by Build and tests); an existing name is kept (first source wins).
  Status Add(ModelEntry entry);
  std::string DebugString() const;

 private:
  std::map<std::string, ModelEntry> entries_;  // by normalised name
};

}  // namespace swarmkv
