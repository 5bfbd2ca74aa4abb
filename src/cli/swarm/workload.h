// The swarm benchmark's synthetic workload: a deterministic "codebase" every agent reads, and
// one short, distinct task per agent.
//
// Invariant: the same seed gives the same text, byte for byte, on every machine; the shared
// context ends with a newline so that no tokenizer merges it with the text that follows, which
// keeps the shared prefix's token ids identical across agents.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace swarmkv::cli {

// Generated source files, cut at a line end to the longest text with count_tokens(text) <=
// target_tokens (within a line of it). count_tokens may be null: ~3.5 characters per token.
std::string MakeSharedContext(uint64_t seed, int64_t target_tokens,
                              const std::function<int64_t(const std::string&)>& count_tokens);

// A short task for agent `index`, naming something in the context, about `approx_words` long.
std::string MakeAgentTask(uint64_t seed, int index, int approx_words);

}  // namespace swarmkv::cli
