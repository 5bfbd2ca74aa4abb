// Test-only (swarmkv_tiers_testing): ForwardingBackend, a TierBackend that forwards every required
// call to a real backend. The tests' recording, gating and fault-injecting wrappers derive from it
// and override only what they change.
//
// Invariant: GetInto and Prefetch are not forwarded: they keep TierBackend's defaults, so every
// read goes through this object's Get (a wrapper that changes Get changes GetInto too).
// Thread-safety: as the wrapped backend's.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tiers/tier_backend.h"

namespace swarmkv {

class ForwardingBackend : public TierBackend {
 public:
  explicit ForwardingBackend(TierBackend* base) : base_(base) {}

  std::string_view name() const override { return base_->name(); }
  Status Put(const Hash128& key, std::span<const uint8_t> bytes) override { return base_->Put(key, bytes); }
  Result<std::optional<std::string>> Get(const Hash128& key) override { return base_->Get(key); }
  Result<bool> Contains(const Hash128& key) override { return base_->Contains(key); }
  Status Erase(const Hash128& key) override { return base_->Erase(key); }
  TierBackendStats stats() const override { return base_->stats(); }
  std::string DebugString() const override { return base_->DebugString(); }

 protected:
  TierBackend* base() const { return base_; }

 private:
  TierBackend* base_;  // not owned; outlives this
};

}  // namespace swarmkv
