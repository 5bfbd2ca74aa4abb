// Fixtures shared by the tiers' unit tests (test binaries only): a small KvMemory with one
// namespace of a fixed toy shape, and a disk backend in a directory.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/hash.h"
#include "memory/kv_memory.h"
#include "tiers/disk_backend.h"

namespace swarmkv::testing {

// One namespace `ns`: 3 layers, 2 KV heads, head dims 32, 4-token blocks; `hybrid` adds
// recurrent checkpoints (64 and 32 bytes per layer). No free slots retained.
inline std::unique_ptr<KvMemory> NewTierTestMemory(const Hash128& ns, const std::string& name,
                                                   uint64_t budget_bytes, bool hybrid = false) {
  KvMemoryOptions o;
  o.budget_bytes = budget_bytes;
  o.retain_free_bytes = 0;
  auto m = KvMemory::Create(std::move(o)).value();
  NamespaceOptions n;
  n.id = ns;
  n.name = name;
  n.shape.num_layers = 3;
  n.shape.num_kv_heads = 2;
  n.shape.head_dim_k = 32;
  n.shape.head_dim_v = 32;
  n.shape.block_tokens = 4;
  if (hybrid) n.recurrent_bytes_per_layer = {64, 32};
  EXPECT_TRUE(m->RegisterNamespace(n).ok());
  return m;
}

// A disk tier of 16 MiB in `dir`.
inline std::unique_ptr<DiskBackend> OpenTierTestDisk(const std::string& dir) {
  DiskBackendOptions o;
  o.dir = dir;
  o.capacity_bytes = 16 << 20;
  return DiskBackend::Open(o).value();
}

}  // namespace swarmkv::testing
