#include "model/hparams.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "model/arch_hparams.h"

namespace swarmkv {
namespace {

std::string Key(ModelArch arch, std::string_view suffix) {
  return std::string(ModelArchName(arch)) + "." + std::string(suffix);
}

// Reads an optional u32 key into *out; absent leaves *out unchanged.
Status OptionalU32(const GgufFile& f, const std::string& key, uint32_t* out) {
  if (!f.Find(key)) return Status::OK();
  SKV_ASSIGN_OR_RETURN(*out, f.GetU32(key));
  return Status::OK();
}
Status OptionalF32(const GgufFile& f, const std::string& key, float* out) {
  if (!f.Find(key)) return Status::OK();
  SKV_ASSIGN_OR_RETURN(*out, f.GetF32(key));
  return Status::OK();
}

// head_count / head_count_kv may be a per-layer array in llama.cpp; we support only uniform ones,
// except that with `zero_layers` (head_count_kv) a 0 entry marks a recurrent layer of a hybrid
// model: *zero_layers gets one flag per entry (true = 0) and *out the uniform non-zero count.
Status HeadCount(const GgufFile& f, const std::string& key, uint32_t* out, std::vector<bool>* zero_layers = nullptr) {
  const GgufValue* v = f.Find(key);
  if (!v) return Status::OK();
  if (!v->is_array()) {
    SKV_ASSIGN_OR_RETURN(*out, f.GetU32(key));
    return Status::OK();
  }
  SKV_ASSIGN_OR_RETURN(auto arr, f.GetI32Array(key));
  if (arr.empty()) return InvalidArgumentError("metadata key '" + key + "' is an empty array");
  if (zero_layers != nullptr && std::find(arr.begin(), arr.end(), 0) != arr.end()) {
    zero_layers->clear();
    int32_t heads = 0;
    for (int32_t x : arr) {
      zero_layers->push_back(x == 0);
      if (x < 0) return InvalidArgumentError("metadata key '" + key + "' has a negative entry");
      if (x != 0 && heads != 0 && x != heads)
        return UnimplementedError("metadata key '" + key + "' varies per attention layer; only uniform head counts are supported");
      if (x != 0) heads = x;
    }
    if (heads == 0) return UnimplementedError("metadata key '" + key + "' has no attention layer (pure recurrent models are not supported yet)");
    *out = static_cast<uint32_t>(heads);
    return Status::OK();
  }
  for (int32_t x : arr)
    if (x != arr[0])
      return UnimplementedError("metadata key '" + key + "' varies per layer; only uniform head counts are supported");
  if (arr[0] <= 0) return InvalidArgumentError("metadata key '" + key + "' must be positive");
  *out = static_cast<uint32_t>(arr[0]);
  return Status::OK();
}

}  // namespace

std::string_view ModelArchName(ModelArch arch) {
  switch (arch) {
    case ModelArch::kLlama: return "llama";
    case ModelArch::kQwen2: return "qwen2";
    case ModelArch::kQwen3: return "qwen3";
    case ModelArch::kGranite: return "granite";
    case ModelArch::kOlmo2: return "olmo2";
    case ModelArch::kPhi3: return "phi3";
    case ModelArch::kGemma2: return "gemma2";
    case ModelArch::kGemma3: return "gemma3";
    case ModelArch::kLfm2: return "lfm2";
    case ModelArch::kQwen3Moe: return "qwen3moe";
    case ModelArch::kMamba2: return "mamba2";
    case ModelArch::kGraniteHybrid: return "granitehybrid";
    case ModelArch::kGptOss: return "gpt-oss";
  }
  return "?";
}

std::vector<ModelArch> AllModelArchs() {
  return {ModelArch::kLlama,   ModelArch::kQwen2, ModelArch::kQwen3,  ModelArch::kGranite,
          ModelArch::kOlmo2,   ModelArch::kPhi3,  ModelArch::kGemma2, ModelArch::kGemma3,
          ModelArch::kLfm2,    ModelArch::kQwen3Moe, ModelArch::kMamba2, ModelArch::kGraniteHybrid,
          ModelArch::kGptOss};
}

Result<ModelArch> ParseModelArch(std::string_view name) {
  std::string supported;
  for (ModelArch a : AllModelArchs()) {
    if (ModelArchName(a) == name) return a;
    supported += (supported.empty() ? "" : ", ") + std::string(ModelArchName(a));
  }
  return UnimplementedError("unsupported architecture '" + std::string(name) + "' (supported: " + supported + ")");
}

std::string_view RopeScalingTypeName(RopeScalingType type) {
  switch (type) {
    case RopeScalingType::kNone: return "none";
    case RopeScalingType::kLinear: return "linear";
    case RopeScalingType::kYarn: return "yarn";
    case RopeScalingType::kLongrope: return "longrope";
  }
  return "?";
}

Result<ModelHParams> ModelHParams::FromGguf(const GgufFile& f) {
  ModelHParams h;
  SKV_ASSIGN_OR_RETURN(std::string_view arch_name, f.GetString("general.architecture"));
  SKV_ASSIGN_OR_RETURN(h.arch, ParseModelArch(arch_name));
  const ModelArch a = h.arch;
  SKV_ASSIGN_OR_RETURN(h.n_ctx_train, f.GetU32(Key(a, "context_length")));
  SKV_ASSIGN_OR_RETURN(h.n_embd, f.GetU32(Key(a, "embedding_length")));
  SKV_ASSIGN_OR_RETURN(h.n_layer, f.GetU32(Key(a, "block_count")));
  SKV_ASSIGN_OR_RETURN(h.n_ff, f.GetU32(Key(a, "feed_forward_length")));
  if (!f.Find(Key(a, "attention.head_count")) && !h.attention_free())
    return NotFoundError("metadata key '" + Key(a, "attention.head_count") + "' not found");
  SKV_RETURN_IF_ERROR(HeadCount(f, Key(a, "attention.head_count"), &h.n_head));
  h.n_head_kv = h.n_head;
  // head_count_kv per layer (0 = a recurrent layer: lfm2's short conv, granitehybrid's Mamba-2);
  // mamba2 has no attention at all.
  if (!h.attention_free())
    SKV_RETURN_IF_ERROR(HeadCount(f, Key(a, "attention.head_count_kv"), &h.n_head_kv, &h.recurrent_layers));
  if (h.n_head == 0 && !h.attention_free()) return InvalidArgumentError(Key(a, "attention.head_count") + " is 0");
  h.head_dim_k = h.n_head > 0 ? h.n_embd / h.n_head : 0;
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(a, "attention.key_length"), &h.head_dim_k));
  h.head_dim_v = h.n_head > 0 ? h.n_embd / h.n_head : 0;  // llama.cpp: value_length defaults to n_embd / n_head
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(a, "attention.value_length"), &h.head_dim_v));
  h.n_rot = h.head_dim_k;
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(a, "rope.dimension_count"), &h.n_rot));
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(a, "rope.freq_base"), &h.rope_freq_base));
  SKV_ASSIGN_OR_RETURN(h.rms_norm_eps, f.GetF32(Key(a, "attention.layer_norm_rms_epsilon")));

  // RoPE scaling: type defaults to "linear" (llama.cpp); factor 0/absent means 1.
  std::string_view scaling = "linear";
  if (f.Find(Key(a, "rope.scaling.type"))) {
    SKV_ASSIGN_OR_RETURN(scaling, f.GetString(Key(a, "rope.scaling.type")));
  }
  float factor = 0.0f;
  if (f.Find(Key(a, "rope.scaling.factor"))) {
    SKV_RETURN_IF_ERROR(OptionalF32(f, Key(a, "rope.scaling.factor"), &factor));
  } else {
    SKV_RETURN_IF_ERROR(OptionalF32(f, Key(a, "rope.scale_linear"), &factor));
  }
  RopeScaling& rs = h.rope_scaling;
  rs.factor = factor == 0.0f ? 1.0f : factor;
  if (scaling == "none") {
    rs.type = RopeScalingType::kNone;
  } else if (scaling == "linear") {
    rs.type = rs.factor == 1.0f ? RopeScalingType::kNone : RopeScalingType::kLinear;
  } else if (scaling == "yarn") {
    rs.type = RopeScalingType::kYarn;
  } else if (scaling == "longrope") {
    rs.type = RopeScalingType::kLongrope;
  } else {
    return InvalidArgumentError("metadata key '" + Key(a, "rope.scaling.type") + "' has unknown value '" +
                                std::string(scaling) + "' (known: none, linear, yarn, longrope)");
  }
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(a, "rope.scaling.attn_factor"), &rs.attn_factor));
  rs.original_context_length = h.n_ctx_train;
  SKV_RETURN_IF_ERROR(OptionalU32(f, Key(a, "rope.scaling.original_context_length"), &rs.original_context_length));
  SKV_RETURN_IF_ERROR(OptionalF32(f, Key(a, "rope.scaling.yarn_log_multiplier"), &rs.yarn_log_multiplier));
  if (f.Find(Key(a, "rope.scaling.finetuned"))) {
    SKV_ASSIGN_OR_RETURN(rs.finetuned, f.GetBool(Key(a, "rope.scaling.finetuned")));
  }

  // Vocabulary size: explicit key, else the token list, else token_embd's rows.
  const GgufValue* tokens = f.Find("tokenizer.ggml.tokens");
  const GgufTensorInfo* embd = f.FindTensor("token_embd.weight");
  if (f.Find(Key(a, "vocab_size"))) {
    SKV_ASSIGN_OR_RETURN(h.n_vocab, f.GetU32(Key(a, "vocab_size")));
  } else if (tokens && tokens->is_array()) {
    h.n_vocab = static_cast<uint32_t>(std::min<uint64_t>(tokens->array_size(), UINT32_MAX));
  } else if (embd && embd->shape.size() == 2) {
    h.n_vocab = static_cast<uint32_t>(std::min<uint64_t>(embd->shape[1], UINT32_MAX));
  }
  if (tokens && tokens->is_array() && tokens->array_size() != h.n_vocab)
    return InvalidArgumentError("vocabulary size " + std::to_string(h.n_vocab) + " does not match the " +
                                std::to_string(tokens->array_size()) + " entries of tokenizer.ggml.tokens");

  h.rope_neox = a != ModelArch::kLlama && a != ModelArch::kGranite && a != ModelArch::kGraniteHybrid;
  h.has_qkv_bias = f.FindTensor("blk.0.attn_q.bias") != nullptr;
  h.has_qk_norm = f.FindTensor("blk.0.attn_q_norm.weight") != nullptr;
  h.tied_output = f.FindTensor("output.weight") == nullptr;
  h.has_rope_freqs = f.FindTensor("rope_freqs.weight") != nullptr;
  h.fused_qkv = f.FindTensor("blk.0.attn_qkv.weight") != nullptr;
  if (a == ModelArch::kQwen3 && !h.has_qk_norm)
    return InvalidArgumentError("qwen3 model has no blk.0.attn_q_norm.weight (qwen3 needs per-head q/k norms)");
  SKV_RETURN_IF_ERROR(ReadArchHParams(f, &h));
  SKV_RETURN_IF_ERROR(h.Validate());
  return h;
}

Status ModelHParams::Validate() const {
  auto positive = [](const char* name, uint64_t v) -> Status {
    if (v == 0) return InvalidArgumentError(std::string("hyper-parameter ") + name + " is 0");
    return Status::OK();
  };
  SKV_RETURN_IF_ERROR(positive("context_length", n_ctx_train));
  SKV_RETURN_IF_ERROR(positive("embedding_length", n_embd));
  SKV_RETURN_IF_ERROR(positive("block_count", n_layer));
  SKV_RETURN_IF_ERROR(ssm.Validate());
  if (attention_free()) {  // mamba2: only the SSM, the vocabulary and the norm matter
    SKV_RETURN_IF_ERROR(positive("vocab_size", n_vocab));
    if (!ssm.present()) return InvalidArgumentError("mamba2 model without ssm.* hyper-parameters");
    if (recurrent_layers.size() != n_layer) return InternalError("mamba2: every layer must be marked recurrent");
    if (!(rms_norm_eps > 0.0f) || !std::isfinite(rms_norm_eps))
      return InvalidArgumentError("attention.layer_norm_rms_epsilon must be positive, got " + std::to_string(rms_norm_eps));
    if (n_embd > (1u << 20) || n_layer > 4096) return InvalidArgumentError("hyper-parameters out of range: " + DebugString());
    return Status::OK();
  }
  SKV_RETURN_IF_ERROR(positive("feed_forward_length", n_ff));
  SKV_RETURN_IF_ERROR(positive("head_count", n_head));
  SKV_RETURN_IF_ERROR(positive("head_count_kv", n_head_kv));
  SKV_RETURN_IF_ERROR(positive("key_length", head_dim_k));
  SKV_RETURN_IF_ERROR(positive("value_length", head_dim_v));
  SKV_RETURN_IF_ERROR(positive("vocab_size", n_vocab));
  if (n_head % n_head_kv != 0)
    return InvalidArgumentError("head_count " + std::to_string(n_head) + " is not a multiple of head_count_kv " +
                                std::to_string(n_head_kv));
  if (n_rot == 0 || n_rot > head_dim_k || n_rot % 2 != 0)
    return InvalidArgumentError("rope.dimension_count " + std::to_string(n_rot) + " must be even and in 2.." +
                                std::to_string(head_dim_k) + " (key_length)");
  if (!(rope_freq_base > 0.0f) || !std::isfinite(rope_freq_base))
    return InvalidArgumentError("rope.freq_base must be positive, got " + std::to_string(rope_freq_base));
  if (!(rms_norm_eps > 0.0f) || !std::isfinite(rms_norm_eps))
    return InvalidArgumentError("attention.layer_norm_rms_epsilon must be positive, got " + std::to_string(rms_norm_eps));
  if (!(rope_scaling.factor > 0.0f) || !std::isfinite(rope_scaling.factor))
    return InvalidArgumentError("rope.scaling.factor must be positive");
  SKV_RETURN_IF_ERROR(ValidateArchHParams(*this));
  // Sizes used in products must stay far from overflow.
  if (n_embd > (1u << 20) || n_ff > (1u << 22) || n_layer > 4096 || n_head > 4096 || head_dim_k > 4096 ||
      head_dim_v > 4096)
    return InvalidArgumentError("hyper-parameters out of range: " + DebugString());
  return Status::OK();
}

std::string ModelHParams::DebugString() const {
  char buf[640];
  std::snprintf(buf, sizeof(buf),
                "%s ctx=%u embd=%u layers=%u ff=%u heads=%u kv_heads=%u head_dim=%u/%u rot=%u vocab=%u "
                "rope_base=%g rope_scaling=%s x%g eps=%g neox=%d qkv_bias=%d qk_norm=%d tied=%d swa=%u recurrent=%u",
                std::string(ModelArchName(arch)).c_str(), n_ctx_train, n_embd, n_layer, n_ff, n_head, n_head_kv,
                head_dim_k, head_dim_v, n_rot, n_vocab, rope_freq_base,
                std::string(RopeScalingTypeName(rope_scaling.type)).c_str(), rope_scaling.factor, rms_norm_eps,
                rope_neox, has_qkv_bias, has_qk_norm, tied_output, sliding_window, n_layer - n_attention_layers());
  return buf;
}

}  // namespace swarmkv
