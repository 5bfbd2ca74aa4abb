// PinRegistry: the KV pins a server holds, kept in one file beside the disk tier so that they
// survive a restart (server/pin_service.h restores them at start-up).
//
// A record names a pin per model (model registry name + pin name), says which weights it was made
// for (the model's digest and KV namespace: a restart with other weights under that name drops
// it), holds the prefix's token ids, and when it was made and expires (unix ms; 0 = never).
//
// File: JSON {"format": "swarmkv-pins", "version": 1, "pins": [{"model", "name", "digest",
// "namespace", "tokens": [ids], "created_at_ms", "expires_at_ms"}]}, rewritten whole on every
// change through Env::WriteFileAtomic (temp file, fsync, rename): a reader never sees half of it.
//
// Invariant: the file is input anyone with access to the directory could have written, so
// reading it trusts nothing: its size, the number of records, names, token counts and ids are all
// bounded (PinRegistryOptions), every field is type-checked, and any violation is an error naming
// the record and the field — never a crash, never a partially applied file. At most one record per
// (model, name).
//
// Thread-safety: all methods thread-safe (one mutex; the file is written under it, so writes are
// ordered as the changes were).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace swarmkv {

struct PinRecord {
  std::string model;         // registry name ("qwen:latest")
  std::string name;          // the pin's name, unique per model
  std::string digest;        // the model's weights digest when pinned (Ollama sha256, else a hash)
  std::string namespace_id;  // hex of the KV namespace when pinned
  std::vector<int32_t> tokens;
  int64_t created_unix_ms = 0;
  int64_t expires_unix_ms = 0;  // 0: never

  bool Expired(int64_t now_unix_ms) const { return expires_unix_ms != 0 && expires_unix_ms <= now_unix_ms; }
};

struct PinRegistryOptions {
  std::string path;                    // "" : kept in memory only (no disk tier)
  size_t max_pins = 256;               // records in the file (and alive at once)
  size_t max_tokens = 1u << 20;        // token ids of one pin
  size_t max_name_bytes = 256;         // model, pin name, digest, namespace strings
  uint64_t max_file_bytes = 64u << 20; // a larger file is refused unread
  Env* env = nullptr;                  // nullptr: Env::Default()
};

class PinRegistry {
 public:
  // Reads `options.path` when it exists (a missing file is an empty registry). A file that fails
  // validation is an error (Corruption naming what is wrong); the caller decides what to do with
  // it (the server moves it aside and starts with no pins).
  static Result<std::unique_ptr<PinRegistry>> Open(PinRegistryOptions options);

  // Adds or replaces the record of (model, name) and rewrites the file. InvalidArgument for a
  // record beyond the bounds; ResourceExhausted when max_pins others exist; IOError when the file
  // cannot be written (the record is kept in memory all the same).
  Status Put(PinRecord record);
  // NotFound when there is no such record.
  Status Remove(const std::string& model, const std::string& name);
  std::optional<PinRecord> Find(const std::string& model, const std::string& name) const;
  std::vector<PinRecord> List() const;
  // Forgets expired records (rewriting the file when there were any); returns how many.
  int DropExpired(int64_t now_unix_ms);
  const std::string& path() const { return options_.path; }

  // The file format, for tests and the fuzz target.
  static Result<std::vector<PinRecord>> Parse(std::string_view text, const PinRegistryOptions& limits);
  static std::string Serialize(const std::vector<PinRecord>& records);

 private:
  explicit PinRegistry(PinRegistryOptions options);
  Status CheckRecord(const PinRecord& r) const;
  Status SaveLocked() const;

  const PinRegistryOptions options_;
  Env* const env_;
  mutable std::mutex mu_;
  std::vector<PinRecord> records_;  // guarded by mu_; unique (model, name)
};

}  // namespace swarmkv
