// SequenceHandle: move-only RAII ownership of one KvMemory sequence.
//
// A sequence holds one reference on each of its blocks (a block with references is never
// evicted); the handle releases the sequence — and so drops those references, tail first — when
// it goes out of scope, so an early return or a failed request cannot leak KV. Move-only: exactly
// one owner. (Not to be confused with a named pin, KvMemory::PinPrefix: a TTL'd keep-alive on a
// prefix that has no references.)
//
// Thread-safety: as KvMemory; one handle is used by one thread at a time.
#pragma once

#include <utility>

#include "memory/kv_memory.h"

namespace swarmkv {

class SequenceHandle {
 public:
  SequenceHandle() = default;
  // Takes ownership of `id` (a sequence of `memory`, which must outlive the handle).
  SequenceHandle(KvMemory* memory, SequenceId id) : memory_(memory), id_(id) {}
  static Result<SequenceHandle> Create(KvMemory* memory, const Hash128& namespace_id) {
    SKV_ASSIGN_OR_RETURN(SequenceId id, memory->CreateSequence(namespace_id));
    return SequenceHandle(memory, id);
  }
  SequenceHandle(SequenceHandle&& o) noexcept : memory_(std::exchange(o.memory_, nullptr)), id_(o.id_) {}
  SequenceHandle& operator=(SequenceHandle&& o) noexcept {
    if (this != &o) {
      Reset();
      memory_ = std::exchange(o.memory_, nullptr);
      id_ = o.id_;
    }
    return *this;
  }
  SequenceHandle(const SequenceHandle&) = delete;
  SequenceHandle& operator=(const SequenceHandle&) = delete;
  ~SequenceHandle() { Reset(); }

  bool valid() const { return memory_ != nullptr; }
  SequenceId id() const { return id_; }
  // Releases the sequence now (no-op when empty).
  void Reset() {
    if (memory_ != nullptr) std::exchange(memory_, nullptr)->Release(id_).IgnoreError();
  }
  // Gives up ownership without releasing; the caller must Release the id.
  SequenceId Detach() {
    memory_ = nullptr;
    return id_;
  }

 private:
  KvMemory* memory_ = nullptr;
  SequenceId id_ = 0;
};

}  // namespace swarmkv
