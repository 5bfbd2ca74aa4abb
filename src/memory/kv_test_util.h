// Test helpers for the memory core (linked into test binaries only): deterministic KV contents.
//
// Every K/V row and recurrent checkpoint is filled with bytes derived from (namespace salt,
// position, hash of the token prefix up to and including that position, layer, head, K/V). A
// block shared where it should not be, copied wrongly or left stale therefore fails
// VerifySequence: the bytes name exactly which prefix produced them.
//
// Thread-safety: pure functions over the KvMemory API (which is thread-safe).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "memory/kv_memory.h"

namespace swarmkv::testing {

// A KvShape of `layers` layers and `kv_heads` KV heads, K/V head dims `dk`/`dv`, `block_tokens`-token
// blocks and the given K/V dtypes.
inline KvShape TestKvShape(int32_t layers, int32_t kv_heads, int32_t dk, int32_t dv, int32_t block_tokens,
                           TensorType k_type = TensorType::kF16, TensorType v_type = TensorType::kF16) {
  KvShape s;
  s.num_layers = layers;
  s.num_kv_heads = kv_heads;
  s.head_dim_k = dk;
  s.head_dim_v = dv;
  s.block_tokens = block_tokens;
  s.k_type = k_type;
  s.v_type = v_type;
  return s;
}

inline uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline void FillPattern(uint8_t* dst, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = Mix64(seed + i);
    std::memcpy(dst + i, &v, std::min<size_t>(8, n - i));
  }
}

inline bool CheckPattern(const uint8_t* src, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = Mix64(seed + i);
    if (std::memcmp(src + i, &v, std::min<size_t>(8, n - i)) != 0) return false;
  }
  return true;
}

// h[p] = hash of (salt, tokens[0..p]).
inline std::vector<uint64_t> PrefixHashes(uint64_t salt, std::span<const int32_t> tokens) {
  std::vector<uint64_t> h(tokens.size());
  uint64_t acc = Mix64(salt);
  for (size_t i = 0; i < tokens.size(); ++i) {
    acc = Mix64(acc ^ (static_cast<uint64_t>(static_cast<uint32_t>(tokens[i])) * 0x100000001B3ull));
    h[i] = acc;
  }
  return h;
}

inline uint64_t RowSeed(uint64_t prefix_hash, int64_t pos, int32_t layer, int32_t head, int kv) {
  return Mix64(prefix_hash ^ Mix64(static_cast<uint64_t>(pos) * 4099 + static_cast<uint64_t>(layer) * 131 +
                                   static_cast<uint64_t>(head) * 7 + static_cast<uint64_t>(kv)));
}

inline void WriteTokenRows(const KvLayout& l, uint8_t* block, int32_t slot, uint64_t ph, int64_t pos) {
  for (int32_t layer = 0; layer < l.shape().num_layers; ++layer) {
    for (int32_t head = 0; head < l.shape().num_kv_heads; ++head) {
      FillPattern(block + l.KRowOffset(layer, head, slot), l.k_row_bytes(), RowSeed(ph, pos, layer, head, 0));
      FillPattern(block + l.VRowOffset(layer, head, slot), l.v_row_bytes(), RowSeed(ph, pos, layer, head, 1));
    }
  }
}

inline bool CheckTokenRows(const KvLayout& l, const uint8_t* block, int32_t slot, uint64_t ph, int64_t pos) {
  for (int32_t layer = 0; layer < l.shape().num_layers; ++layer) {
    for (int32_t head = 0; head < l.shape().num_kv_heads; ++head) {
      if (!CheckPattern(block + l.KRowOffset(layer, head, slot), l.k_row_bytes(), RowSeed(ph, pos, layer, head, 0)) ||
          !CheckPattern(block + l.VRowOffset(layer, head, slot), l.v_row_bytes(), RowSeed(ph, pos, layer, head, 1))) {
        return false;
      }
    }
  }
  return true;
}

inline uint64_t StateSeed(uint64_t ph) { return Mix64(ph ^ 0x57A7E5EEDull); }

// Reserve + write rows (and recurrent checkpoints at block ends) + Commit, like the engine does.
inline Status AppendTokens(KvMemory& mem, SequenceId seq, const KvLayout& layout, uint64_t salt,
                           std::span<const int32_t> new_tokens, bool has_state) {
  SKV_ASSIGN_OR_RETURN(std::vector<int32_t> all, mem.Tokens(seq));
  const int64_t start = static_cast<int64_t>(all.size());
  all.insert(all.end(), new_tokens.begin(), new_tokens.end());
  const std::vector<uint64_t> ph = PrefixHashes(salt, all);
  SKV_RETURN_IF_ERROR(mem.Reserve(seq, static_cast<int64_t>(new_tokens.size())));
  const int32_t bt = layout.block_tokens();
  for (int64_t p = start; p < static_cast<int64_t>(all.size()); ++p) {
    SKV_ASSIGN_OR_RETURN(uint8_t * block, mem.MutableBlock(seq, p));
    WriteTokenRows(layout, block, static_cast<int32_t>(p % bt), ph[static_cast<size_t>(p)], p);
    if (has_state && p % bt == bt - 1) {
      SKV_ASSIGN_OR_RETURN(std::span<uint8_t> state, mem.MutableRecurrentState(seq, p));
      FillPattern(state.data(), state.size(), StateSeed(ph[static_cast<size_t>(p)]));
    }
  }
  return mem.Commit(seq, new_tokens);
}

// Every committed row of `seq` holds the bytes its own prefix produced.
inline ::testing::AssertionResult VerifySequence(KvMemory& mem, SequenceId seq, const KvLayout& layout, uint64_t salt,
                                                 std::span<const int32_t> expected_tokens) {
  auto tokens = mem.Tokens(seq);
  if (!tokens.ok()) return ::testing::AssertionFailure() << tokens.status().ToString();
  if (!std::equal(tokens->begin(), tokens->end(), expected_tokens.begin(), expected_tokens.end())) {
    return ::testing::AssertionFailure() << "sequence " << seq << " has " << tokens->size() << " tokens, expected "
                                         << expected_tokens.size() << " (or different ids)";
  }
  auto table = mem.GetBlockTable(seq);
  if (!table.ok()) return ::testing::AssertionFailure() << table.status().ToString();
  const std::vector<uint64_t> ph = PrefixHashes(salt, *tokens);
  const int32_t bt = layout.block_tokens();
  for (size_t p = 0; p < tokens->size(); ++p) {
    if (!CheckTokenRows(layout, table->blocks[p / bt], static_cast<int32_t>(p % bt), ph[p], static_cast<int64_t>(p))) {
      return ::testing::AssertionFailure() << "sequence " << seq << ": KV rows of position " << p << " are wrong";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace swarmkv::testing
