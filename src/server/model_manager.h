// Loads models on first use and unloads them after their keep_alive (Ollama's semantics).
//
// A request holds a ModelLease for its whole life; while any lease on a weights file is held the
// model stays loaded. When the last lease goes, the model expires keep_alive later: the request's
// keep_alive if it gave one, else the server default (5 minutes); 0 unloads at once; a negative
// keep_alive never expires. Names that resolve to the same weights (same weights_key) share one
// loaded model. Unloading drops the LoadedModel; its KV stays in the memory tiers.
//
// Invariant: at most one LoadedModel per weights_key; a model with active leases is never
// unloaded; Load runs once per weights_key at a time (concurrent first requests wait for it).
//
// Thread-safety: all methods are thread-safe. A background thread reaps expired models.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "server/backend.h"
#include "server/model_registry.h"

namespace swarmkv {

struct ModelManagerOptions {
  int64_t default_keep_alive_ms = 5 * 60 * 1000;
  int64_t reap_interval_ms = 200;  // how often the reaper looks; 0 => no thread (tests call Reap)
  int max_loaded_models = 0;       // resident at once (--max-loaded-models); 0 = no cap. Loading
                                   // one more unloads the idle model closest to expiry, or is
                                   // Unavailable (503) when all are in use.
};

// Parses Ollama's keep_alive: a number of seconds (JSON number), or a duration string "10s",
// "5m", "1h", "500ms", "-1", "0". Negative => never expires (returned as -1).
Result<int64_t> ParseKeepAliveMs(const std::string& text);

class ModelManager;

class ModelLease {
 public:
  ModelLease() = default;
  ModelLease(ModelLease&& o) noexcept { *this = std::move(o); }
  ModelLease& operator=(ModelLease&& o) noexcept;
  ~ModelLease() { Release(); }
  const LoadedModel& model() const { return *model_; }
  const std::string& weights_key() const { return key_; }
  // Overrides the keep_alive applied when this lease is released (Ollama: the request's keep_alive).
  void set_keep_alive_ms(std::optional<int64_t> ms) { keep_alive_ms_ = ms; }
  void Release();

 private:
  friend class ModelManager;
  ModelManager* manager_ = nullptr;
  std::string key_;
  std::shared_ptr<LoadedModel> model_;
  std::optional<int64_t> keep_alive_ms_;
};

struct LoadedModelStatus {
  std::string weights_key;
  std::vector<std::string> names;  // registry names of these weights
  LoadedModelInfo info;
  int active_requests = 0;
  int64_t expires_unix_ms = 0;  // -1: never; 0: while requests are active
  uint64_t size_bytes = 0;
};

class ModelManager {
 public:
  ModelManager(const ModelRegistry* registry, ServerBackend* backend, ModelManagerOptions options = {});
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Loads `entry`'s weights if needed and leases them. Errors: the backend's load error, or
  // Unavailable when there is no backend.
  Result<ModelLease> Acquire(const ModelEntry& entry, std::optional<int64_t> keep_alive_ms);
  // Unloads every idle model whose expiry is <= now_unix_ms. Returns how many were unloaded.
  int Reap(int64_t now_unix_ms);
  // Marks an idle model of `weights_key` to expire now (keep_alive 0 with no prompt).
  void ExpireNow(const std::string& weights_key);
  std::vector<LoadedModelStatus> Loaded() const;
  bool IsLoaded(const std::string& weights_key) const;
  Status CheckInvariants() const;

 private:
  // REQUIRES: mu_ held. With max_loaded_models set, unloads idle models (closest to expiry first;
  // into `evicted`, destroyed by the caller outside the lock) until one more than `key` fits;
  // Unavailable when every resident model is in use.
  Status MakeRoomLocked(const std::string& key, std::vector<std::shared_ptr<LoadedModel>>* evicted);
  friend class ModelLease;
  struct Slot {
    std::shared_ptr<LoadedModel> model;
    bool loading = false;
    int active = 0;
    int64_t expires_unix_ms = 0;  // meaningful when active == 0; -1 never
    uint64_t size_bytes = 0;
  };
  void Release(const std::string& key, std::optional<int64_t> keep_alive_ms);
  void ReaperLoop();

  // Constant after construction.
  const ModelRegistry* registry_;
  ServerBackend* backend_;
  const ModelManagerOptions options_;

  // State below is protected by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;  // a load finished, or stop_
  std::map<std::string, Slot> slots_;  // by weights_key
  bool stop_ = false;
  std::thread reaper_;
};

int64_t NowUnixMs();

}  // namespace swarmkv
