// Helpers for the tier fault tests: synthetic block chains and a child-process runner.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <vector>

#include "tiers/synthetic_kv.h"
#include "tiers/tier_manager.h"

namespace swarmkv::testing {

inline const Hash128 kFaultNs{0xFA, 0x17};

// A chain of synthetic SmolLM2-geometry blocks.
struct BlockChain {
  EntryLayout layout = SmolLm2KvLayout();
  std::vector<EntryMeta> metas;
  std::vector<std::vector<uint8_t>> kv;
  BlockChain(int n, uint64_t seed) {
    Hash128 parent;
    for (int i = 0; i < n; ++i) {
      metas.push_back(SyntheticMeta(layout, kFaultNs, parent, seed + i));
      kv.push_back(SyntheticKvBlock(layout, seed + i));
      parent = metas.back().id;
    }
  }
  TierBlock Block(int i) const {
    return TierBlock{metas[i].namespace_id, metas[i].id, metas[i].parent, metas[i].tokens, kv[i], {}, layout};
  }
  std::vector<Hash128> Ids() const {
    std::vector<Hash128> ids;
    for (const auto& m : metas) ids.push_back(m.id);
    return ids;
  }
};

// Runs `body` in a forked child process; returns its pid. The child exits with body's return.
inline pid_t RunChild(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

// Waits for the child; its exit code, or -signal.
inline int WaitChild(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace swarmkv::testing
