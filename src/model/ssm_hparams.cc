#include "model/ssm_hparams.h"

namespace swarmkv {

Status SsmHParams::Validate(uint32_t n_layer) const {
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
  if (layers.size() != n_layer)
    return InvalidArgumentError("the Mamba-2 layer pattern has " + std::to_string(layers.size()) + " entries for " +
                                std::to_string(n_layer) + " layers");
  bool any = false;
  for (bool b : layers) any = any || b;
  if (!any) return InvalidArgumentError("ssm.* keys present but no layer is a Mamba-2 layer");
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

Status ReadHybridLayerLayout(const GgufFile& f, const std::string& key, uint32_t n_layer, uint32_t* n_head_kv,
                             SsmHParams* out) {
  const GgufValue* v = f.Find(key);
  if (v == nullptr) return NotFoundError("metadata key '" + key + "' not found");
  out->layers.assign(n_layer, false);
  if (!v->is_array()) {
    SKV_ASSIGN_OR_RETURN(*n_head_kv, f.GetU32(key));
    if (*n_head_kv == 0) out->layers.assign(n_layer, true);
    return Status::OK();
  }
  SKV_ASSIGN_OR_RETURN(auto arr, f.GetI32Array(key));
  if (arr.size() != n_layer)
    return InvalidArgumentError("metadata key '" + key + "' has " + std::to_string(arr.size()) + " entries for " +
                                std::to_string(n_layer) + " layers");
  *n_head_kv = 0;
  for (uint32_t l = 0; l < n_layer; ++l) {
    const int32_t x = arr[l];
    if (x < 0) return InvalidArgumentError("metadata key '" + key + "' has a negative entry");
    if (x == 0) {
      out->layers[l] = true;
      continue;
    }
    if (*n_head_kv != 0 && static_cast<uint32_t>(x) != *n_head_kv)
      return UnimplementedError("metadata key '" + key +
                                "' varies between attention layers; only one KV head count is supported");
    *n_head_kv = static_cast<uint32_t>(x);
  }
  return Status::OK();
}

}  // namespace swarmkv
