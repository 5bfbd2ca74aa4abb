#include "model/ssm_hparams.h"

namespace swarmkv {

Status SsmHParams::Validate() const {
  if (!present()) return Status::OK();
  for (auto [name, v] : {std::pair<const char*, uint32_t>{"ssm.conv_kernel", d_conv},
                         {"ssm.inner_size", d_inner},
                         {"ssm.state_size", d_state},
                         {"ssm.time_step_rank", n_head},
                         {"ssm.group_count", n_group}}) {
    if (v == 0) return InvalidArgumentError(std::string("hyper-parameter ") + name + " is 0");
  }
  if (d_conv > 64 || d_inner > (1u << 20) || d_state > 4096 || n_head > 4096)
    return InvalidArgumentError("ssm hyper-parameters out of range (conv_kernel " + std::to_string(d_conv) +
                                ", inner_size " + std::to_string(d_inner) + ", state_size " +
                                std::to_string(d_state) + ", time_step_rank " + std::to_string(n_head) + ")");
  if (d_inner % n_head != 0)
    return InvalidArgumentError("ssm.inner_size " + std::to_string(d_inner) + " is not a multiple of ssm.time_step_rank " +
                                std::to_string(n_head));
  if (n_head % n_group != 0 || d_inner % n_group != 0)
    return InvalidArgumentError("ssm.group_count " + std::to_string(n_group) +
                                " must divide ssm.time_step_rank and ssm.inner_size");
  return Status::OK();
}

Status ReadSsmKeys(const GgufFile& f, const std::string& arch, SsmHParams* out) {
  SKV_ASSIGN_OR_RETURN(out->d_conv, f.GetU32(arch + ".ssm.conv_kernel"));
  SKV_ASSIGN_OR_RETURN(out->d_inner, f.GetU32(arch + ".ssm.inner_size"));
  SKV_ASSIGN_OR_RETURN(out->d_state, f.GetU32(arch + ".ssm.state_size"));
  SKV_ASSIGN_OR_RETURN(out->n_head, f.GetU32(arch + ".ssm.time_step_rank"));
  SKV_ASSIGN_OR_RETURN(out->n_group, f.GetU32(arch + ".ssm.group_count"));
  if (out->d_inner == 0) return InvalidArgumentError("metadata key '" + arch + ".ssm.inner_size' is 0");
  return Status::OK();
}

}  // namespace swarmkv
