#include "server/model_manager.h"

#include <chrono>

#include "base/logging.h"

namespace swarmkv {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<int64_t> ParseKeepAliveMs(const std::string& text) {
  if (text.empty()) return InvalidArgumentError("keep_alive is empty");
  size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(text, &pos);
  } catch (...) {
    return InvalidArgumentError("keep_alive '" + text + "' is not a duration (like 5m, 30s, 0, -1)");
  }
  std::string unit = text.substr(pos);
  double scale;
  if (unit.empty() || unit == "s") scale = 1000;
  else if (unit == "ms") scale = 1;
  else if (unit == "m") scale = 60000;
  else if (unit == "h") scale = 3600000;
  else return InvalidArgumentError("keep_alive '" + text + "': unknown unit '" + unit + "' (ms, s, m, h)");
  if (value < 0) return int64_t{-1};
  double ms = value * scale;
  if (ms > 1e15) return int64_t{-1};  // longer than the machine will live
  return static_cast<int64_t>(ms);
}

ModelLease& ModelLease::operator=(ModelLease&& o) noexcept {
  if (this != &o) {
    Release();
    manager_ = o.manager_;
    key_ = std::move(o.key_);
    model_ = std::move(o.model_);
    keep_alive_ms_ = o.keep_alive_ms_;
    o.manager_ = nullptr;
  }
  return *this;
}

void ModelLease::Release() {
  if (manager_ == nullptr) return;
  model_.reset();
  manager_->Release(key_, keep_alive_ms_);
  manager_ = nullptr;
}

ModelManager::ModelManager(const ModelRegistry* registry, ServerBackend* backend, ModelManagerOptions options)
    : registry_(registry), backend_(backend), options_(options) {
  if (options_.reap_interval_ms > 0) reaper_ = std::thread([this] { ReaperLoop(); });
}

ModelManager::~ModelManager() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
}

Result<ModelLease> ModelManager::Acquire(const ModelEntry& entry, std::optional<int64_t> keep_alive_ms) {
  if (backend_ == nullptr)
    return UnavailableError("model '" + entry.name + "' cannot be loaded: this server was built without an engine");
  std::unique_lock<std::mutex> lock(mu_);
  // NOTE: the map node may be erased while we wait (a reap), so look the slot up again each time.
  while (slots_[entry.weights_key].loading) cv_.wait(lock);
  if (!slots_[entry.weights_key].model) {
    std::vector<std::shared_ptr<LoadedModel>> evicted;  // destroyed outside the lock
    if (Status room = MakeRoomLocked(entry.weights_key, &evicted); !room.ok()) {
      slots_.erase(entry.weights_key);
      lock.unlock();
      return room;
    }
    slots_[entry.weights_key].loading = true;
    lock.unlock();
    evicted.clear();
    SKV_LOG(INFO) << "loading model " << entry.name << " from " << entry.weights_path;
    Result<std::shared_ptr<LoadedModel>> loaded = InternalError("not loaded");
    try {
      loaded = backend_->Load(entry.weights_path);
    } catch (const std::exception& e) {  // a throwing load must not leave the slot "loading"
      loaded = InternalError(std::string("the loader threw: ") + e.what());
    } catch (...) {
      loaded = InternalError("the loader threw");
    }
    lock.lock();
    Slot& s = slots_[entry.weights_key];  // nobody erases a loading slot
    s.loading = false;
    cv_.notify_all();
    if (!loaded.ok()) {
      if (!s.model && s.active == 0) slots_.erase(entry.weights_key);  // no empty slot left behind
      return loaded.status().WithContext("loading model '" + entry.name + "'");
    }
    s.model = std::move(loaded).value();
    s.size_bytes = entry.size_bytes;
  }
  Slot& slot = slots_[entry.weights_key];
  ++slot.active;
  ModelLease lease;
  lease.manager_ = this;
  lease.key_ = entry.weights_key;
  lease.model_ = slot.model;
  lease.keep_alive_ms_ = keep_alive_ms;
  return lease;
}

Status ModelManager::MakeRoomLocked(const std::string& key, std::vector<std::shared_ptr<LoadedModel>>* evicted) {
  if (options_.max_loaded_models <= 0) return Status::OK();
  while (true) {
    int resident = 0;
    auto idle = slots_.end();
    for (auto it = slots_.begin(); it != slots_.end(); ++it) {
      if (it->first == key || (!it->second.model && !it->second.loading)) continue;
      ++resident;
      const Slot& s = it->second;
      if (s.model && !s.loading && s.active == 0) {
        auto rank = [](const Slot& x) { return x.expires_unix_ms < 0 ? INT64_MAX : x.expires_unix_ms; };
        if (idle == slots_.end() || rank(s) < rank(idle->second)) idle = it;
      }
    }
    if (resident < options_.max_loaded_models) return Status::OK();
    if (idle == slots_.end())
      return UnavailableError(std::to_string(resident) + " models are loaded and in use (--max-loaded-models " +
                              std::to_string(options_.max_loaded_models) + "); retry later");
    SKV_LOG(INFO) << "unloading idle model " << idle->first << " to make room (--max-loaded-models)";
    evicted->push_back(std::move(idle->second.model));
    slots_.erase(idle);
  }
}

void ModelManager::Release(const std::string& key, std::optional<int64_t> keep_alive_ms) {
  std::shared_ptr<LoadedModel> drop;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = slots_.find(key);
    SKV_CHECK(it != slots_.end() && it->second.active > 0) << "lease released twice: " << key;
    Slot& slot = it->second;
    --slot.active;
    int64_t ka = keep_alive_ms.value_or(options_.default_keep_alive_ms);
    if (slot.active == 0) {
      slot.expires_unix_ms = ka < 0 ? -1 : NowUnixMs() + ka;
      if (ka == 0) {
        drop = std::move(slot.model);
        slots_.erase(it);
      }
    }
  }
  if (drop) SKV_LOG(INFO) << "unloaded model " << key << " (keep_alive 0)";
}

int ModelManager::Reap(int64_t now_unix_ms) {
  std::vector<std::shared_ptr<LoadedModel>> drop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      const Slot& s = it->second;
      if (s.model && !s.loading && s.active == 0 && s.expires_unix_ms >= 0 && s.expires_unix_ms <= now_unix_ms) {
        SKV_LOG(INFO) << "unloading idle model " << it->first;
        drop.push_back(s.model);
        it = slots_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return static_cast<int>(drop.size());
}

void ModelManager::ExpireNow(const std::string& weights_key) {
  std::shared_ptr<LoadedModel> drop;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(weights_key);
  if (it == slots_.end() || it->second.loading) return;
  if (it->second.active == 0) {
    drop = std::move(it->second.model);
    slots_.erase(it);
  }
}

void ModelManager::ReaperLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.reap_interval_ms), [&] { return stop_; });
    if (stop_) break;
    lock.unlock();
    Reap(NowUnixMs());
    lock.lock();
  }
}

std::vector<LoadedModelStatus> ModelManager::Loaded() const {
  std::vector<LoadedModelStatus> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, s] : slots_) {
    if (!s.model) continue;
    LoadedModelStatus st;
    st.weights_key = key;
    st.names = registry_ ? registry_->NamesForWeights(key) : std::vector<std::string>{};
    st.info = s.model->info();
    st.active_requests = s.active;
    st.expires_unix_ms = s.active > 0 ? 0 : s.expires_unix_ms;
    st.size_bytes = s.size_bytes;
    out.push_back(std::move(st));
  }
  return out;
}

bool ModelManager::IsLoaded(const std::string& weights_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(weights_key);
  return it != slots_.end() && it->second.model != nullptr;
}

Status ModelManager::CheckInvariants() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, s] : slots_) {
    if (s.active < 0) return InternalError("negative lease count for " + key);
    if (s.active > 0 && !s.model) return InternalError("leased model " + key + " is not loaded");
  }
  return Status::OK();
}

}  // namespace swarmkv
