// KvMemory's named pins: PinPrefix keeps a prefix's blocks resident until a TTL (they are evicted
// last, kPinnedUnderPressure); a pin names identities, so blocks sealed or restored later under a
// pinned prefix are pinned from birth (NamespaceState::pin_wanted). Not to be confused with a
// sequence's reference to a block (refcount; memory/sequence_handle.h).
#include <mutex>

#include "memory/kv_memory.h"
#include "memory/kv_memory_impl.h"

namespace swarmkv {

using internal::Block;
using internal::NamespaceState;
using internal::Pin;

void KvMemory::Impl::SetPinLocked(Block* b, int delta) {
  const bool was = b->name_pins > 0;
  b->name_pins += delta;
  const bool is = b->name_pins > 0;
  if (b->refs == 0 && was != is) {
    (was ? pinned : lru).Remove(b);
    evictable_bytes -= internal::SlotOf(b);
    MakeCachedLocked(b);
  }
}

void KvMemory::Impl::UnpinLocked(std::map<std::string, Pin>::iterator it) {
  NamespaceState* ns = it->second.ns;
  // Tail first, so that the prefix's tail is again evicted before its head.
  for (auto id_it = it->second.ids.rbegin(); id_it != it->second.ids.rend(); ++id_it) {
    auto w = ns->pin_wanted.find(*id_it);
    SKV_CHECK(w != ns->pin_wanted.end());
    if (--w->second == 0) ns->pin_wanted.erase(w);
    auto bit = ns->index.find(*id_it);
    if (bit != ns->index.end()) SetPinLocked(bit->second, -1);
  }
  pins.erase(it);
}

// A block just entered the index: it inherits the pins naming its identity.
void KvMemory::Impl::InheritPinsLocked(Block* b) {
  auto w = b->ns->pin_wanted.find(b->id);
  b->name_pins = w == b->ns->pin_wanted.end() ? 0 : w->second;
}

void KvMemory::Impl::ExpirePinsLocked() {
  if (pins.empty()) return;
  const int64_t now = Now();
  for (auto it = pins.begin(); it != pins.end();) {
    auto next = std::next(it);
    if (it->second.expires_at_nanos != 0 && it->second.expires_at_nanos <= now) UnpinLocked(it);
    it = next;
  }
}

Result<int64_t> KvMemory::PinPrefix(const std::string& name, const Hash128& namespace_id,
                                    std::span<const int32_t> tokens, int64_t ttl_nanos) {
  Impl& m = *impl_;
  if (name.empty()) return InvalidArgumentError("a KV pin needs a name");
  SKV_ASSIGN_OR_RETURN(NamespaceState * ns, m.NamespaceOf(namespace_id));
  std::vector<BlockId> ids = ComputeBlockChain(namespace_id, tokens, ns->block_tokens);
  std::lock_guard<std::mutex> lock(m.mu);
  m.ExpirePinsLocked();
  if (auto it = m.pins.find(name); it != m.pins.end()) m.UnpinLocked(it);
  Pin pin;
  pin.ns = ns;
  pin.expires_at_nanos = ttl_nanos > 0 ? m.Now() + ttl_nanos : 0;
  int64_t resident = 0;
  // Tail first: among pinned blocks too, a prefix's tail is evicted before its head.
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    ++ns->pin_wanted[*it];
    auto bit = ns->index.find(*it);
    if (bit != ns->index.end()) {
      m.SetPinLocked(bit->second, +1);
      ++resident;
    }
  }
  pin.ids = std::move(ids);
  m.pins.emplace(name, std::move(pin));
  return resident * ns->block_tokens;
}

Status KvMemory::UnpinPrefix(const std::string& name) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  auto it = m.pins.find(name);
  if (it == m.pins.end()) return NotFoundError("no KV pin named '" + name + "'");
  m.UnpinLocked(it);
  return Status::OK();
}

std::vector<PinInfo> KvMemory::ListPins() const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  std::vector<PinInfo> out;
  for (const auto& [name, pin] : m.pins) {
    int64_t resident = 0;
    for (const BlockId& id : pin.ids) resident += pin.ns->index.contains(id) ? 1 : 0;
    out.push_back({name, pin.ns->options.id, resident * pin.ns->block_tokens, pin.expires_at_nanos});
  }
  return out;
}

}  // namespace swarmkv
