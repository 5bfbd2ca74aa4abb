// Model: a memory-mapped GGUF model file with its hyper-parameters, bound weights and weights
// fingerprint — what the engine, tokenizer and server load.
//
// Invariant: a loaded Model's weights point into its own mapping (valid for the Model's life)
// and satisfy ModelWeights' invariant for its hparams; fingerprint() is the file's weights
// fingerprint (model/fingerprint.h) unless options.compute_fingerprint was false (then zero).
//
// Thread-safety: immutable after Load; share across threads.
#pragma once

#include <memory>
#include <string>

#include "base/env.h"
#include "base/hash.h"
#include "base/status.h"
#include "gguf/gguf_file.h"
#include "model/fingerprint.h"
#include "model/hparams.h"
#include "model/kv_namespace.h"
#include "model/weights.h"

namespace swarmkv {

struct ModelLoadOptions {
  bool compute_fingerprint = true;
  FingerprintOptions fingerprint;  // cache location, Ollama blob names, Env
  Env* env = Env::Default();
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> Load(const std::string& path, const ModelLoadOptions& options = {});

  const GgufFile& gguf() const { return *file_; }
  const ModelHParams& hparams() const { return hparams_; }
  const ModelWeights& weights() const { return weights_; }
  const Hash128& fingerprint() const { return fingerprint_; }
  FingerprintSource fingerprint_source() const { return fingerprint_source_; }
  const std::string& path() const { return file_->path(); }
  Hash128 KvNamespace(const KvCacheConfig& kv) const { return ComputeKvNamespace(hparams_, kv, fingerprint_); }

  std::string DebugString() const;

 private:
  Model() = default;

  // Constant after construction.
  std::unique_ptr<GgufFile> file_;
  ModelHParams hparams_;
  ModelWeights weights_;
  Hash128 fingerprint_;
  FingerprintSource fingerprint_source_ = FingerprintSource::kHashed;
};

}  // namespace swarmkv
