// Weights fingerprint: a 128-bit digest of a model file's tensor bytes, so two files share KV
// only when their weights are identical.
//
// Definition (stable; changing it changes every namespace): XXH3-128 over, for each tensor in
// file order, its name, type id, shape and the XXH3-128 of its bytes. Metadata is excluded (a
// renamed or re-templated copy of the same weights shares KV). An Ollama blob named
// `sha256-<64 hex>` instead takes XXH3-128("ollama-sha256:" + hex) from its name without
// reading the data (Ollama names blobs by content).
//
// FingerprintCache remembers results keyed by (path, size, mtime, inode, device) in one text
// file. Invariant: a cache hit returns what hashing the file would return as long as the key
// matches; every line carries its own checksum, so a torn, corrupt or concurrently rewritten
// cache file costs at most a re-hash, never a wrong fingerprint. Writes are atomic
// (temp file + rename); concurrent writers may drop each other's newest entry, nothing worse.
//
// Thread-safety: the functions are thread-safe; tensor hashing runs on ThreadPool::Default().
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/hash.h"
#include "base/status.h"
#include "gguf/gguf_file.h"

namespace swarmkv {

// Hashes the tensors of `file` (reads every byte; memory bandwidth bound).
Hash128 ComputeWeightsFingerprint(const GgufFile& file);

// The fingerprint implied by an Ollama blob file name (`.../sha256-<64 hex>`), if it is one.
std::optional<Hash128> FingerprintFromOllamaBlobName(std::string_view path);

// $XDG_CACHE_HOME/swarmkv/fingerprints, else $HOME/.cache/swarmkv/fingerprints ("" if neither).
std::string DefaultFingerprintCachePath();

struct FingerprintOptions {
  std::string cache_path = DefaultFingerprintCachePath();  // "" disables the cache
  bool use_ollama_blob_name = true;
  Env* env = Env::Default();
};

// Where a fingerprint came from (for logs and tests).
enum class FingerprintSource { kHashed, kCache, kOllamaBlobName };

struct FingerprintResult {
  Hash128 fingerprint;
  FingerprintSource source = FingerprintSource::kHashed;
};

// The fingerprint of the file `file` was opened from: Ollama name, else cache hit, else hash
// (and record in the cache; a failure to write the cache is logged, not returned).
Result<FingerprintResult> GetWeightsFingerprint(const GgufFile& file, const FingerprintOptions& options = {});

}  // namespace swarmkv
