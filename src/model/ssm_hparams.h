// SsmHParams: the Mamba-2 mixer's hyper-parameters (mamba2, granitehybrid), read from the keys
// llama.cpp writes ({arch}.ssm.conv_kernel, .state_size, .group_count, .inner_size,
// .time_step_rank). Which layers are Mamba-2 layers is ModelHParams::recurrent_layers (all of
// mamba2's; granitehybrid's are those whose attention.head_count_kv entry is 0, as llama.cpp
// decides).
//
// Invariant: after ReadSsmKeys and Validate succeed, either present() is false (nothing set) or
// every count is > 0, n_head and d_inner are multiples of n_group and d_inner of n_head.
//
// Thread-safety: a value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace swarmkv {

struct SsmHParams {
  uint32_t d_conv = 0;   // {arch}.ssm.conv_kernel
  uint32_t d_inner = 0;  // {arch}.ssm.inner_size
  uint32_t d_state = 0;  // {arch}.ssm.state_size
  uint32_t n_head = 0;   // {arch}.ssm.time_step_rank (Mamba-2: one dt per head)
  uint32_t n_group = 0;  // {arch}.ssm.group_count

  bool present() const { return d_inner > 0; }
  uint32_t head_dim() const { return d_inner / n_head; }
  // Conv channels: x, B and C (d_inner + 2·n_group·d_state).
  uint32_t conv_channels() const { return d_inner + 2 * n_group * d_state; }
  // Rows of ssm_in: z, xBC, dt.
  uint32_t in_proj_rows() const { return d_inner + conv_channels() + n_head; }
  // Recurrent state per layer and sequence, in floats (kernels/ssm.h layouts).
  size_t conv_state_floats() const { return size_t{d_conv - 1} * conv_channels(); }
  size_t ssm_state_floats() const { return size_t{d_inner} * d_state; }

  // Checks the invariant above.
  Status Validate() const;
};

// Reads the ssm.* keys under `arch`. Each is required.
Status ReadSsmKeys(const GgufFile& file, const std::string& arch, SsmHParams* out);

}  // namespace swarmkv
