// The swarm benchmark's synthetic workload: deterministic "codebases" the agents read, one short,
// distinct task per agent, and the turns of an agent loop — a stand-in answer and a tool result
// (a source file the agent "read") of a given token length per agent and turn.
//
// Invariant: the same seed gives the same text, byte for byte, on every machine. Every generated
// piece ends with a newline, so that no tokenizer merges it with the text that follows: the shared
// context's token ids are identical across agents, and an agent's history tokenizes the same way
// on every turn (its prefix is a cache hit).
//
// Thread-safety: pure functions; `count_tokens` is called from the caller's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace swarmkv::cli {

// Counts the tokens of a text; null means an estimate of ~3.5 characters per token.
using CountTokensFn = std::function<int64_t(const std::string&)>;

// Generated source files, cut at a line end to the longest text with count_tokens(text) <=
// target_tokens (within a line of it). Codebase `codebase` (0, 1, ...) of a seed differs from the
// others: --distinct-prefixes gives each group of agents its own.
std::string MakeSharedContext(uint64_t seed, int64_t target_tokens, const CountTokensFn& count_tokens,
                              int codebase = 0);

// A short task for agent `index`, naming something in the context, about `approx_words` long.
std::string MakeAgentTask(uint64_t seed, int index, int approx_words);

// What agent `agent` gets back from a tool after its answer of turn `turn` (0-based): a header
// naming the file, then the file's text, cut to <= target_tokens (within a line of it).
std::string MakeToolResult(uint64_t seed, int agent, int turn, int64_t target_tokens, const CountTokensFn& count_tokens);

// A stand-in for agent `agent`'s answer of turn `turn`: prose of <= target_tokens (within a line).
// The built-in models have random weights and print (nearly) nothing, so the agent appends this
// instead: its history then grows as with a real model, identically in every mode.
std::string MakeAnswer(uint64_t seed, int agent, int turn, int64_t target_tokens, const CountTokensFn& count_tokens);

}  // namespace swarmkv::cli
