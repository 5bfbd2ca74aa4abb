// Reads an Ollama model store in place: <root>/manifests/<host>/<namespace>/<model>/<tag> are
// OCI-style JSON manifests whose layers name blobs <root>/blobs/sha256-<hex>. The
// "application/vnd.ollama.image.model" layer is the GGUF; template, system and params layers are
// small text/JSON blobs.
//
// Names follow Ollama: registry.ollama.ai/library/llama3/latest is "llama3:latest";
// registry.ollama.ai/user/m/t is "user/m:t"; another host keeps it: "host/ns/m:t".
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "server/model_registry.h"

namespace swarmkv {

struct OllamaScan {
  std::vector<ModelEntry> models;
  std::vector<std::string> warnings;  // one line per manifest skipped, naming it and why
};

// Scans `root`. A missing root is an empty scan, not an error.
OllamaScan ScanOllamaStore(const std::string& root);

// Parses one manifest (its text), resolving blobs under `root`. Errors name the problem.
Result<ModelEntry> ParseOllamaManifest(const std::string& root, const std::string& name,
                                       const std::string& manifest_json);

// The store's default location: $OLLAMA_MODELS, else $HOME/.ollama/models.
std::string DefaultOllamaStore();

}  // namespace swarmkv
