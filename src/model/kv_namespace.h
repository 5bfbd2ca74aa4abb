// The KV namespace (DESIGN.md "Why sharing is safe"): a stable 128-bit id of everything that
// determines a model's K and V bytes. Two models share KV blocks only if their namespaces match.
//
// Invariant: the id changes when any input that can change a K/V byte changes — architecture,
// every shape hyper-parameter, RoPE settings (base, dimensions, pairing, scaling), the RMS
// epsilon, the KV dtypes, the block size, or any weight byte (via the fingerprint) — and is the
// same on every machine and build for the same inputs, including the kernel numerics
// (KvCacheConfig::numerics: machines whose kernels give different bits must not share KV). It does not depend on the file path,
// metadata outside the hyper-parameters (names, chat template) or the tensor storage order.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "base/hash.h"
#include "gguf/tensor_type.h"
#include "model/hparams.h"

namespace swarmkv {

struct KvCacheConfig {
  TensorType k_type = TensorType::kF16;
  TensorType v_type = TensorType::kF16;
  uint32_t block_tokens = 32;
  uint32_t numerics = 0;  // kernels' KernelNumericsId() of the process computing the KV
};

Hash128 ComputeKvNamespace(const ModelHParams& hparams, const KvCacheConfig& kv, const Hash128& weights_fingerprint);

}  // namespace swarmkv
