// How swarm-bench runs llama.cpp's llama-server as the baseline: its command line for N agents
// (one slot each, its prompt cache with --cache-reuse 256 — its best settings for agents that
// re-send their history) and the KV bytes it allocates at start-up (it reports no KV use).
//
// Invariant: the baseline gets what swarmkv gets — the same GGUF, thread count and KV dtype, and
// a context of `num_ctx` tokens per agent.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace swarmkv::cli {

struct LlamaServerSetup {
  std::string model_path;
  int agents = 1;
  int32_t num_ctx = 0;  // per agent (slot)
  int threads = 1;
  std::string kv_type = "f16";
  std::string extra_args;  // split at spaces, appended last (they override)
};

// The arguments after the binary; --host/--port are ServerProcess's.
std::vector<std::string> LlamaServerArgs(const LlamaServerSetup& setup);

// KV bytes for `tokens` cached tokens of `n_layer` layers with K and V rows of k_dim + v_dim
// elements of `kv_type` (f16/bf16 2 bytes, f32 4, q8_0 34 per 32, q4_0 18 per 32).
uint64_t KvBytes(int64_t tokens, uint32_t n_layer, uint32_t kv_row_elements, const std::string& kv_type);

// The words of `text` between `sep`s, trimmed of spaces, empty ones dropped.
std::vector<std::string> SplitWords(const std::string& text, char sep);

}  // namespace swarmkv::cli
