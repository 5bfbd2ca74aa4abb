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

// A chain of synthetic SmolLM2-geometry blocks in kFaultNs, block i seeded `seed + i`.
struct BlockChain : SyntheticChain {
  BlockChain(int n, uint64_t seed) : SyntheticChain(n, kFaultNs, seed) {}
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
