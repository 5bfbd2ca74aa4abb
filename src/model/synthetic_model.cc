#include "model/synthetic_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/hash.h"
#include "base/thread_pool.h"
#include "gguf/gguf_writer.h"
#include "kernels/quants.h"
#include "model/bpe_trainer.h"
#include "base/prng.h"
#include "model/arch_hparams.h"
#include "model/synthetic_corpus.h"

namespace swarmkv {
namespace {

// LFM2's layer pattern: attention at 2, 5, 8, 10, 12, 14 in the first 16 layers (LFM2-350M),
// every third layer beyond; short-conv layers elsewhere.
std::vector<bool> Lfm2RecurrentLayers(uint32_t n_layer) {
  std::vector<bool> r(n_layer);
  for (uint32_t i = 0; i < n_layer; ++i) {
    const bool attention = i < 16 ? (i == 2 || i == 5 || i == 8 || i == 10 || i == 12 || i == 14) : i % 3 == 2;
    r[i] = !attention;
  }
  return r;
}

// NOTE: tiny has separate output.weight (the untied path) while the real shapes tie embeddings,
// so both code paths are exercised by the default test model. Its vocabulary (4096) holds the
// 256 byte tokens, 2500 merges and the specials, is a multiple of 64, and keeps token_embd
// small (512K parameters).
std::vector<SyntheticShape> AllShapes() {
  std::vector<SyntheticShape> s;
  SyntheticShape tiny;
  tiny.name = "tiny";
  tiny.arch = ModelArch::kLlama;
  tiny.n_embd = 128, tiny.n_layer = 4, tiny.n_head = 4, tiny.n_head_kv = 2, tiny.head_dim = 32;
  tiny.n_ff = 384, tiny.n_vocab = 4096, tiny.n_ctx = 4096;
  tiny.rope_freq_base = 10000.0f, tiny.rms_norm_eps = 1e-5f, tiny.tied_embeddings = false;
  s.push_back(tiny);
  // tiny with rows of 256 (issue 18): every 2-D weight in K-quant / IQ4_XS blocks, no fallback.
  SyntheticShape tiny_k = tiny;
  tiny_k.name = "tiny-k";
  tiny_k.n_embd = 256, tiny_k.n_layer = 2, tiny_k.head_dim = 64, tiny_k.n_ff = 512;
  s.push_back(tiny_k);

  SyntheticShape smol;
  smol.name = "smollm2-135m";
  smol.arch = ModelArch::kLlama;
  smol.n_embd = 576, smol.n_layer = 30, smol.n_head = 9, smol.n_head_kv = 3, smol.head_dim = 64;
  // Context 16k (SmolLM2-135M itself says 8k): the swarm demo's >= 8k-token shared context plus
  // each agent's task must fit. Compute is unaffected (no RoPE scaling).
  smol.n_ff = 1536, smol.n_vocab = 49152, smol.n_ctx = 16384;
  smol.rope_freq_base = 100000.0f, smol.rms_norm_eps = 1e-5f, smol.tied_embeddings = true;
  s.push_back(smol);

  SyntheticShape qwen;
  qwen.name = "qwen2.5-0.5b";
  qwen.arch = ModelArch::kQwen2;
  qwen.n_embd = 896, qwen.n_layer = 24, qwen.n_head = 14, qwen.n_head_kv = 2, qwen.head_dim = 64;
  qwen.n_ff = 4864, qwen.n_vocab = 151936, qwen.n_ctx = 32768;
  qwen.rope_freq_base = 1000000.0f, qwen.rms_norm_eps = 1e-6f, qwen.tied_embeddings = true;
  qwen.qkv_bias = true, qwen.tokenizer_pre = "qwen2";
  s.push_back(qwen);

  // The swarm demo's model: SmolLM2-135M's vocabulary, tokenizer and attention geometry with 6 of
  // its 30 layers, so the demo's no-sharing baseline (ten agents x 8k tokens, all recomputed)
  // runs in minutes on 2 cores. The swarm figures are measured on smollm2-135m.
  SyntheticShape demo = smol;
  demo.name = "smollm2-demo";
  demo.n_layer = 6;
  s.push_back(demo);

  // Small variants of the other architectures, for tests of the qwen code paths.
  SyntheticShape tq2 = tiny;
  tq2.name = "tiny-qwen2", tq2.arch = ModelArch::kQwen2, tq2.qkv_bias = true, tq2.tied_embeddings = true;
  tq2.rope_freq_base = 1000000.0f, tq2.rms_norm_eps = 1e-6f, tq2.tokenizer_pre = "qwen2";
  s.push_back(tq2);
  SyntheticShape tq3 = tiny;
  tq3.name = "tiny-qwen3", tq3.arch = ModelArch::kQwen3, tq3.qk_norm = true, tq3.tied_embeddings = true;
  tq3.head_dim = 64;  // qwen3 decouples head_dim from n_embd / n_head (64 != 128 / 4)
  tq3.rope_freq_base = 1000000.0f, tq3.rms_norm_eps = 1e-6f, tq3.tokenizer_pre = "qwen2";
  s.push_back(tq3);

  // The other dense families at their real shapes (make-model --layers cuts them short), each
  // with a tiny variant for the engine's exactness tests. The tiny variants' soft-caps and
  // windows are small on purpose: with σ = 0.02 weights the scores are ~0.05 and a 50-token
  // prompt, so only caps and windows that size make tanh non-linear and the window cut keys.
  SyntheticShape granite;
  granite.name = "granite-3.3-2b", granite.arch = ModelArch::kGranite;
  granite.n_embd = 2048, granite.n_layer = 40, granite.n_head = 32, granite.n_head_kv = 8, granite.head_dim = 64;
  granite.n_ff = 8192, granite.n_vocab = 49159, granite.n_ctx = 131072;
  granite.rope_freq_base = 10000000.0f, granite.rms_norm_eps = 1e-5f, granite.tied_embeddings = true;
  granite.embedding_scale = 12.0f, granite.residual_scale = 0.22f, granite.attention_scale = 0.015625f;
  granite.logit_scale = 8.0f;
  s.push_back(granite);
  SyntheticShape tgr = tiny;
  tgr.name = "tiny-granite", tgr.arch = ModelArch::kGranite, tgr.tied_embeddings = true;
  tgr.embedding_scale = 12.0f, tgr.residual_scale = 0.22f, tgr.attention_scale = 0.03125f, tgr.logit_scale = 8.0f;
  s.push_back(tgr);

  SyntheticShape olmo;
  olmo.name = "olmo2-1b", olmo.arch = ModelArch::kOlmo2;
  olmo.n_embd = 2048, olmo.n_layer = 16, olmo.n_head = 16, olmo.n_head_kv = 16, olmo.head_dim = 128;
  olmo.n_ff = 8192, olmo.n_vocab = 100352, olmo.n_ctx = 4096;
  olmo.rope_freq_base = 500000.0f, olmo.rms_norm_eps = 1e-6f, olmo.tied_embeddings = false, olmo.qk_norm = true;
  s.push_back(olmo);
  SyntheticShape tol = tiny;
  tol.name = "tiny-olmo2", tol.arch = ModelArch::kOlmo2, tol.qk_norm = true;
  tol.rope_freq_base = 500000.0f, tol.rms_norm_eps = 1e-6f;
  s.push_back(tol);

  // phi-3.5-mini: 128k context over a 4k original one (LongRoPE: short factors at <= 4k,
  // long ones beyond). tiny-phi3's original context is 1k, so a 2k run takes the long factors.
  SyntheticShape phi;
  phi.name = "phi-3.5-mini", phi.arch = ModelArch::kPhi3;
  phi.n_embd = 3072, phi.n_layer = 32, phi.n_head = 32, phi.n_head_kv = 32, phi.head_dim = 96;
  phi.n_ff = 8192, phi.n_vocab = 32064, phi.n_ctx = 131072;
  phi.rope_freq_base = 10000.0f, phi.rms_norm_eps = 1e-5f, phi.tied_embeddings = false;
  phi.rope_original_context = 4096, phi.rope_attn_factor = 1.1902381f;
  s.push_back(phi);
  SyntheticShape tph = tiny;
  tph.name = "tiny-phi3", tph.arch = ModelArch::kPhi3, tph.n_head_kv = 4;
  tph.rope_original_context = 1024, tph.rope_attn_factor = 1.1902381f;
  s.push_back(tph);

  SyntheticShape g2;
  g2.name = "gemma2-2b", g2.arch = ModelArch::kGemma2;
  g2.n_embd = 2304, g2.n_layer = 26, g2.n_head = 8, g2.n_head_kv = 4, g2.head_dim = 256;
  g2.n_ff = 9216, g2.n_vocab = 256000, g2.n_ctx = 8192;
  g2.rope_freq_base = 10000.0f, g2.rms_norm_eps = 1e-6f, g2.tied_embeddings = true;
  g2.attn_softcap = 50.0f, g2.final_softcap = 30.0f, g2.sliding_window = 4096;
  s.push_back(g2);
  SyntheticShape tg2 = tiny;
  tg2.name = "tiny-gemma2", tg2.arch = ModelArch::kGemma2, tg2.tied_embeddings = true, tg2.rms_norm_eps = 1e-6f;
  tg2.attn_softcap = 0.05f, tg2.final_softcap = 0.2f, tg2.sliding_window = 20;
  s.push_back(tg2);

  SyntheticShape g3;
  g3.name = "gemma3-1b", g3.arch = ModelArch::kGemma3, g3.qk_norm = true;
  g3.n_embd = 1152, g3.n_layer = 26, g3.n_head = 4, g3.n_head_kv = 1, g3.head_dim = 256;
  g3.n_ff = 6912, g3.n_vocab = 262144, g3.n_ctx = 32768;
  g3.rope_freq_base = 1000000.0f, g3.rms_norm_eps = 1e-6f, g3.tied_embeddings = true;
  g3.sliding_window = 512, g3.rope_freq_base_swa = 10000.0f;
  s.push_back(g3);
  SyntheticShape g3s = g3;
  g3s.name = "gemma3-270m", g3s.n_embd = 640, g3s.n_layer = 18, g3s.n_ff = 2048;
  s.push_back(g3s);
  SyntheticShape tg3 = tiny;
  tg3.name = "tiny-gemma3", tg3.arch = ModelArch::kGemma3, tg3.qk_norm = true, tg3.tied_embeddings = true;
  tg3.rope_freq_base = 1000000.0f, tg3.rms_norm_eps = 1e-6f;
  tg3.sliding_window = 40, tg3.sliding_window_pattern = 3, tg3.rope_freq_base_swa = 10000.0f;
  tg3.final_softcap = 0.2f;
  s.push_back(tg3);

  // LFM2-350M (issue 19): 16 layers, attention at 2, 5, 8, 10, 12, 14, gated short convs with
  // 3 taps elsewhere. tiny-lfm2: conv, conv, attention, conv (the same pattern cut to 4).
  SyntheticShape lfm;
  lfm.name = "lfm2-350m", lfm.arch = ModelArch::kLfm2, lfm.qk_norm = true;
  lfm.n_embd = 1024, lfm.n_layer = 16, lfm.n_head = 16, lfm.n_head_kv = 8, lfm.head_dim = 64;
  lfm.n_ff = 4608, lfm.n_vocab = 65536, lfm.n_ctx = 128000;
  lfm.rope_freq_base = 1000000.0f, lfm.rms_norm_eps = 1e-5f, lfm.tied_embeddings = true;
  lfm.recurrent_layers = Lfm2RecurrentLayers(lfm.n_layer), lfm.shortconv_l_cache = 3;
  s.push_back(lfm);
  SyntheticShape tlf = tiny;
  tlf.name = "tiny-lfm2", tlf.arch = ModelArch::kLfm2, tlf.qk_norm = true, tlf.tied_embeddings = true;
  tlf.rope_freq_base = 1000000.0f;
  tlf.recurrent_layers = Lfm2RecurrentLayers(tlf.n_layer), tlf.shortconv_l_cache = 3;
  s.push_back(tlf);
  // Mixture of experts. qwen3-30b-a3b at its real shape (128 experts, top 8, 768 wide; make-model
  // --experts cuts the count, --layers the depth); tiny-qwen3moe: 8 experts, top 2, for the
  // engine's exactness tests (routing differs per token, so a batch mixes experts).
  SyntheticShape q3m;
  q3m.name = "qwen3-30b-a3b", q3m.arch = ModelArch::kQwen3Moe, q3m.qk_norm = true;
  q3m.n_embd = 2048, q3m.n_layer = 48, q3m.n_head = 32, q3m.n_head_kv = 4, q3m.head_dim = 128;
  q3m.n_ff = 6144, q3m.n_vocab = 151936, q3m.n_ctx = 40960;
  q3m.rope_freq_base = 1000000.0f, q3m.rms_norm_eps = 1e-6f, q3m.tied_embeddings = false, q3m.tokenizer_pre = "qwen2";
  q3m.n_expert = 128, q3m.n_expert_used = 8, q3m.n_ff_exp = 768;
  s.push_back(q3m);
  SyntheticShape tq3m = tq3;
  tq3m.name = "tiny-qwen3moe", tq3m.arch = ModelArch::kQwen3Moe;
  tq3m.n_expert = 8, tq3m.n_expert_used = 2, tq3m.n_ff_exp = 64;
  s.push_back(tq3m);
  // gpt-oss-20b as published (24 layers alternating 128-token sliding window and global
  // attention, 64 query heads of 64 over 8 KV heads, 32 experts of 2880, top 4, YaRN x32 over
  // 4096, attention sinks); tiny-gpt-oss: the same structure small — a window of 24 tokens and
  // YaRN x32 over 128 so both matter in the tests' prompts, 8 experts, top 4.
  SyntheticShape go;
  go.name = "gpt-oss-20b", go.arch = ModelArch::kGptOss, go.qkv_bias = true;
  go.n_embd = 2880, go.n_layer = 24, go.n_head = 64, go.n_head_kv = 8, go.head_dim = 64;
  go.n_ff = 2880, go.n_vocab = 201088, go.n_ctx = 131072;
  go.rope_freq_base = 150000.0f, go.rms_norm_eps = 1e-5f, go.tied_embeddings = false;
  go.n_expert = 32, go.n_expert_used = 4, go.n_ff_exp = 2880;
  go.sliding_window = 128, go.rope_yarn_factor = 32.0f, go.rope_original_context = 4096;
  s.push_back(go);
  SyntheticShape tgo = tiny;
  tgo.name = "tiny-gpt-oss", tgo.arch = ModelArch::kGptOss, tgo.qkv_bias = true;
  tgo.n_ff = 64, tgo.rope_freq_base = 150000.0f;
  tgo.n_expert = 8, tgo.n_expert_used = 4, tgo.n_ff_exp = 64;
  tgo.sliding_window = 24, tgo.rope_yarn_factor = 32.0f, tgo.rope_original_context = 128;
  s.push_back(tgo);
  // Issue 19: Mamba-2. granite-4.0-h-350m as its published config has it (32 layers, attention
  // at 10, 13, 17, 27, NoPE, d_state 128, 48 SSM heads of 32); mamba2-130m (state-spaces,
  // vocabulary padded to 16). The tiny variants use two groups and a d_state with a remainder
  // after the scan's 32-element steps (tiny-mamba2), RoPE on (tiny-granitehybrid).
  SyntheticShape gh;
  gh.name = "granite-4.0-h-350m", gh.arch = ModelArch::kGraniteHybrid;
  gh.n_embd = 768, gh.n_layer = 32, gh.n_head = 12, gh.n_head_kv = 4, gh.head_dim = 64;
  gh.n_ff = 2048, gh.n_vocab = 100352, gh.n_ctx = 32768;
  gh.rope_freq_base = 10000.0f, gh.rms_norm_eps = 1e-5f, gh.tied_embeddings = true;
  gh.embedding_scale = 12.0f, gh.residual_scale = 0.246f, gh.attention_scale = 0.015625f, gh.logit_scale = 3.0f;
  gh.ssm_conv_kernel = 4, gh.ssm_state_size = 128, gh.ssm_group_count = 1, gh.ssm_inner_size = 1536;
  gh.ssm_time_step_rank = 48, gh.attention_layers = {10, 13, 17, 27}, gh.no_rope = true;
  s.push_back(gh);
  SyntheticShape tgh = tiny;
  tgh.name = "tiny-granitehybrid", tgh.arch = ModelArch::kGraniteHybrid, tgh.tied_embeddings = true;
  tgh.embedding_scale = 12.0f, tgh.residual_scale = 0.22f, tgh.attention_scale = 0.03125f, tgh.logit_scale = 8.0f;
  tgh.ssm_conv_kernel = 4, tgh.ssm_state_size = 32, tgh.ssm_group_count = 2, tgh.ssm_inner_size = 256;
  tgh.ssm_time_step_rank = 8, tgh.attention_layers = {1};
  s.push_back(tgh);
  SyntheticShape m2;
  m2.name = "mamba2-130m", m2.arch = ModelArch::kMamba2;
  m2.n_embd = 768, m2.n_layer = 24, m2.n_vocab = 50288, m2.n_ctx = 1048576;  // llama.cpp writes 2^20
  m2.rms_norm_eps = 1e-5f, m2.tied_embeddings = true, m2.tokenizer_pre = "gpt-2";
  m2.ssm_conv_kernel = 4, m2.ssm_state_size = 128, m2.ssm_group_count = 1, m2.ssm_inner_size = 1536;
  m2.ssm_time_step_rank = 24;
  s.push_back(m2);
  SyntheticShape tm2 = m2;
  tm2.name = "tiny-mamba2", tm2.n_embd = 128, tm2.n_layer = 3, tm2.n_vocab = 4096, tm2.n_ctx = 4096;
  tm2.ssm_state_size = 48, tm2.ssm_group_count = 2, tm2.ssm_inner_size = 256, tm2.ssm_time_step_rank = 16;
  s.push_back(tm2);
  return s;
}

// The chat template and special tokens of a family (written like the family's own template,
// simplified to what the synthetic tokenizer has). bos/eos index into `specials`.
struct FamilyTokens {
  std::vector<const char*> specials;
  int bos = 0, eos = 0;
  const char* chat_template = nullptr;
};

const char* kChatmlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

FamilyTokens TokensFor(ModelArch arch) {
  switch (arch) {
    case ModelArch::kGraniteHybrid:
    case ModelArch::kGranite:
      return {{"<|end_of_text|>", "<|start_of_role|>", "<|end_of_role|>"}, 0, 0,
              "{% for message in messages %}{{ '<|start_of_role|>' + message['role'] + '<|end_of_role|>' + "
              "message['content'] + '<|end_of_text|>\\n' }}{% endfor %}{% if add_generation_prompt %}"
              "{{ '<|start_of_role|>assistant<|end_of_role|>' }}{% endif %}"};
    case ModelArch::kOlmo2:
      return {{"<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>"}, 0, 0,
              "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] }}"
              "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}{% endfor %}"
              "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"};
    case ModelArch::kPhi3:
      // llama.cpp looks up <unk>, <s>, </s> by name in every vocabulary of a model named phi3.
      return {{"<unk>", "<s>", "</s>", "<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"}, 1, 7,
              "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + "
              "'<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"};
    case ModelArch::kGemma2:
    case ModelArch::kGemma3:
      return {{"<bos>", "<start_of_turn>", "<end_of_turn>", "<eos>"}, 0, 2,
              "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}"
              "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
              "{{ '<start_of_turn>' + role + '\\n' + message['content'] + '<end_of_turn>\\n' }}{% endfor %}"
              "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"};
    default:
      return {{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, 0, 2, kChatmlTemplate};
  }
}

// llama.cpp token types.
constexpr int32_t kTokenNormal = 1, kTokenControl = 3, kTokenUnused = 5;

// llama_ftype of a file whose 2-D weights have `type`.
uint32_t FileType(TensorType t) {
  switch (t) {
    case TensorType::kF32: return 0;
    case TensorType::kF16: return 1;
    case TensorType::kQ4_0: return 2;
    case TensorType::kQ8_0: return 7;
    case TensorType::kQ5_0: return 8;
    case TensorType::kBF16: return 32;
    case TensorType::kQ4_1: return 3;
    case TensorType::kQ5_1: return 9;
    case TensorType::kQ2_K: return 10;
    case TensorType::kQ3_K: return 11;  // Q3_K_S: every matrix Q3_K
    case TensorType::kQ4_K: return 14;  // Q4_K_S
    case TensorType::kQ5_K: return 16;  // Q5_K_S
    case TensorType::kQ6_K: return 18;
    case TensorType::kIQ4_NL: return 25;
    case TensorType::kIQ4_XS: return 30;
    case TensorType::kMXFP4: return 38;  // MXFP4_MOE
    default: return 0;
  }
}

enum class Init { kRandom, kOnes, kSmall, kRopeShort, kRopeLong, kUnit, kSsmA, kSsmDtBias, kSsmConv };

// The type a matrix whose rows have ne0 elements is written in: `want`, or — when ne0 is not a
// multiple of its block size — llama-quantize's fallback for that type.
TensorType RowFallbackType(TensorType want, uint64_t ne0) {
  const auto traits = GetTensorTypeTraits(want);
  if (!traits || ne0 % traits->block_size == 0) return want;
  switch (want) {
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kIQ4_XS: return TensorType::kIQ4_NL;
    case TensorType::kQ4_K: return TensorType::kQ5_0;
    case TensorType::kQ5_K: return TensorType::kQ5_1;
    case TensorType::kQ6_K: return TensorType::kQ8_0;
    default: return TensorType::kF16;
  }
}

struct PlannedTensor {
  std::string name;
  std::vector<uint64_t> shape;
  TensorType type;
  Init init;
};

// Issue 19: a Mamba-2 layer's tensors (llama.cpp's names and shapes), and a hybrid's FFN.
void PlanSsmLayer(const SyntheticShape& s, const std::string& p, TensorType wtype, std::vector<PlannedTensor>* t) {
  const uint64_t embd = s.n_embd, inner = s.ssm_inner_size, heads = s.ssm_time_step_rank, ng = s.ssm_group_count;
  const uint64_t ch = inner + 2 * ng * s.ssm_state_size;
  t->push_back({p + "attn_norm.weight", {embd}, TensorType::kF32, Init::kOnes});
  t->push_back({p + "ssm_in.weight", {embd, inner + ch + heads}, wtype, Init::kRandom});
  t->push_back({p + "ssm_conv1d.weight", {uint64_t{s.ssm_conv_kernel}, ch}, TensorType::kF32, Init::kSsmConv});
  t->push_back({p + "ssm_conv1d.bias", {ch}, TensorType::kF32, Init::kSmall});
  t->push_back({p + "ssm_dt.bias", {heads}, TensorType::kF32, Init::kSsmDtBias});
  t->push_back({p + "ssm_a", {1, heads}, TensorType::kF32, Init::kSsmA});
  t->push_back({p + "ssm_d", {1, heads}, TensorType::kF32, Init::kOnes});
  t->push_back({p + "ssm_norm.weight", {inner / ng, ng}, TensorType::kF32, Init::kOnes});
  t->push_back({p + "ssm_out.weight", {inner, embd}, wtype, Init::kRandom});
  if (s.arch == ModelArch::kMamba2) return;
  t->push_back({p + "ffn_norm.weight", {embd}, TensorType::kF32, Init::kOnes});
  t->push_back({p + "ffn_gate.weight", {embd, s.n_ff}, wtype, Init::kRandom});
  t->push_back({p + "ffn_up.weight", {embd, s.n_ff}, wtype, Init::kRandom});
  t->push_back({p + "ffn_down.weight", {uint64_t{s.n_ff}, embd}, wtype, Init::kRandom});
}

bool IsSsmLayer(const SyntheticShape& s, uint32_t layer) {
  if (s.ssm_inner_size == 0) return false;
  const std::vector<uint32_t> attn = HybridAttentionLayers(s);
  return std::find(attn.begin(), attn.end(), layer) == attn.end();
}

std::vector<PlannedTensor> PlanTensors(const SyntheticShape& s, TensorType wtype) {
  std::vector<PlannedTensor> t;
  const uint64_t embd = s.n_embd, q = uint64_t{s.n_head} * s.head_dim, kv = uint64_t{s.n_head_kv} * s.head_dim;
  const bool pre_norms = s.arch != ModelArch::kOlmo2;
  const bool post_norms = s.arch == ModelArch::kOlmo2 || s.arch == ModelArch::kGemma2 || s.arch == ModelArch::kGemma3;
  const bool phi3 = s.arch == ModelArch::kPhi3;  // fused attn_qkv and ffn_up = [gate; up]
  const bool gpt_oss = s.arch == ModelArch::kGptOss;
  t.push_back({"token_embd.weight", {embd, s.n_vocab}, wtype, Init::kRandom});
  if (phi3) {
    t.push_back({"rope_factors_long.weight", {uint64_t{s.head_dim} / 2}, TensorType::kF32, Init::kRopeLong});
    t.push_back({"rope_factors_short.weight", {uint64_t{s.head_dim} / 2}, TensorType::kF32, Init::kRopeShort});
  }
  for (uint32_t i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    if (IsSsmLayer(s, i)) {
      PlanSsmLayer(s, p, wtype, &t);
      continue;
    }
    if (pre_norms) t.push_back({p + "attn_norm.weight", {embd}, TensorType::kF32, Init::kOnes});
    const bool recurrent = i < s.recurrent_layers.size() && s.recurrent_layers[i];
    if (recurrent) {  // lfm2's gated short conv; its taps uniform in ±1 so the conv matters
      t.push_back({p + "shortconv.conv.weight", {uint64_t{s.shortconv_l_cache}, embd}, TensorType::kF32, Init::kUnit});
      t.push_back({p + "shortconv.in_proj.weight", {embd, 3 * embd}, wtype, Init::kRandom});
      t.push_back({p + "shortconv.out_proj.weight", {embd, embd}, wtype, Init::kRandom});
    } else {
    if (phi3) {
      t.push_back({p + "attn_qkv.weight", {embd, q + 2 * kv}, wtype, Init::kRandom});
    } else {
      t.push_back({p + "attn_q.weight", {embd, q}, wtype, Init::kRandom});
      t.push_back({p + "attn_k.weight", {embd, kv}, wtype, Init::kRandom});
      t.push_back({p + "attn_v.weight", {embd, kv}, wtype, Init::kRandom});
    }
    if (s.qkv_bias) {
      t.push_back({p + "attn_q.bias", {q}, TensorType::kF32, Init::kSmall});
      t.push_back({p + "attn_k.bias", {kv}, TensorType::kF32, Init::kSmall});
      t.push_back({p + "attn_v.bias", {kv}, TensorType::kF32, Init::kSmall});
    }
    if (s.qk_norm) {  // olmo2 normalises the whole q / k vector, the others each head
      const bool full = s.arch == ModelArch::kOlmo2;
      t.push_back({p + "attn_q_norm.weight", {full ? q : s.head_dim}, TensorType::kF32, Init::kOnes});
      t.push_back({p + "attn_k_norm.weight", {full ? kv : s.head_dim}, TensorType::kF32, Init::kOnes});
    }
    t.push_back({p + "attn_output.weight", {q, embd}, wtype, Init::kRandom});
    if (gpt_oss) {  // sinks uniform in ±1 so they matter beside the near-uniform scores
      t.push_back({p + "attn_output.bias", {embd}, TensorType::kF32, Init::kSmall});
      t.push_back({p + "attn_sinks.weight", {uint64_t{s.n_head}}, TensorType::kF32, Init::kUnit});
    }
    }  // attention layer
    // gpt-oss's FFN pre-norm has llama.cpp's post-attention name.
    if (post_norms || gpt_oss) t.push_back({p + "post_attention_norm.weight", {embd}, TensorType::kF32, Init::kOnes});
    if (pre_norms && !gpt_oss) t.push_back({p + "ffn_norm.weight", {embd}, TensorType::kF32, Init::kOnes});
    if (s.n_expert > 0) {  // router (F32, as llama-quantize keeps it) and 3-D expert tensors
      const uint64_t ne = s.n_expert, fe = s.n_ff_exp;
      const TensorType et = gpt_oss ? TensorType::kMXFP4 : wtype;  // gpt-oss ships MXFP4 experts
      t.push_back({p + "ffn_gate_inp.weight", {embd, ne}, TensorType::kF32, Init::kRandom});
      t.push_back({p + "ffn_gate_exps.weight", {embd, fe, ne}, et, Init::kRandom});
      t.push_back({p + "ffn_up_exps.weight", {embd, fe, ne}, et, Init::kRandom});
      t.push_back({p + "ffn_down_exps.weight", {fe, embd, ne}, et, Init::kRandom});
      if (gpt_oss) {  // router bias in ±1 so routing differs from the logits' alone
        t.push_back({p + "ffn_gate_inp.bias", {ne}, TensorType::kF32, Init::kUnit});
        t.push_back({p + "ffn_gate_exps.bias", {fe, ne}, TensorType::kF32, Init::kSmall});
        t.push_back({p + "ffn_up_exps.bias", {fe, ne}, TensorType::kF32, Init::kSmall});
        t.push_back({p + "ffn_down_exps.bias", {embd, ne}, TensorType::kF32, Init::kSmall});
      }
      continue;
    }
    if (phi3) {
      t.push_back({p + "ffn_up.weight", {embd, 2 * uint64_t{s.n_ff}}, wtype, Init::kRandom});
    } else {
      t.push_back({p + "ffn_gate.weight", {embd, s.n_ff}, wtype, Init::kRandom});
      t.push_back({p + "ffn_up.weight", {embd, s.n_ff}, wtype, Init::kRandom});
    }
    t.push_back({p + "ffn_down.weight", {uint64_t{s.n_ff}, embd}, wtype, Init::kRandom});
    if (post_norms) t.push_back({p + "post_ffw_norm.weight", {embd}, TensorType::kF32, Init::kOnes});
  }
  t.push_back({s.arch == ModelArch::kLfm2 ? "token_embd_norm.weight" : "output_norm.weight", {embd}, TensorType::kF32,
               Init::kOnes});
  if (!s.tied_embeddings) t.push_back({"output.weight", {embd, s.n_vocab}, wtype, Init::kRandom});
  return t;
}

void SetMetadata(GgufWriter& w, const SyntheticShape& s, const SyntheticModelOptions& o) {
  const std::string a(ModelArchName(s.arch));
  w.SetString("general.architecture", a);
  w.SetString("general.name", "swarmkv-synthetic-" + s.name);
  w.SetU32("general.file_type", FileType(o.type));
  w.SetString("swarmkv.synthetic.shape", s.name);
  w.SetU64("swarmkv.synthetic.seed", o.seed);
  w.SetU32(a + ".context_length", s.n_ctx);
  w.SetU32(a + ".embedding_length", s.n_embd);
  w.SetU32(a + ".block_count", s.n_layer);
  w.SetU32(a + ".feed_forward_length", s.n_ff);
  w.SetU32(a + ".attention.head_count", s.n_head);
  if (s.arch == ModelArch::kGraniteHybrid) {  // per layer, 0 marks the Mamba-2 layers (llama.cpp)
    std::vector<int32_t> kv(s.n_layer);
    for (uint32_t l = 0; l < s.n_layer; ++l) kv[l] = IsSsmLayer(s, l) ? 0 : static_cast<int32_t>(s.n_head_kv);
    w.SetI32Array(a + ".attention.head_count_kv", kv);
  } else if (s.arch == ModelArch::kMamba2) {
    // no attention: head_count 0 and no head_count_kv, as llama.cpp's converter writes it
  } else if (s.recurrent_layers.empty()) {
    w.SetU32(a + ".attention.head_count_kv", s.n_head_kv);
  } else {  // llama.cpp's per-layer array: 0 for a recurrent layer
    std::vector<int32_t> kv;
    for (bool r : s.recurrent_layers) kv.push_back(r ? 0 : static_cast<int32_t>(s.n_head_kv));
    w.SetI32Array(a + ".attention.head_count_kv", kv);
  }
  if (s.shortconv_l_cache != 0) w.SetU32(a + ".shortconv.l_cache", s.shortconv_l_cache);
  if (s.ssm_inner_size != 0) {
    w.SetU32(a + ".ssm.conv_kernel", s.ssm_conv_kernel);
    w.SetU32(a + ".ssm.state_size", s.ssm_state_size);
    w.SetU32(a + ".ssm.group_count", s.ssm_group_count);
    w.SetU32(a + ".ssm.inner_size", s.ssm_inner_size);
    w.SetU32(a + ".ssm.time_step_rank", s.ssm_time_step_rank);
  }
  if (s.no_rope) w.SetBool(a + ".rope.scaling.finetuned", false);
  if (s.n_head != 0 && s.head_dim != s.n_embd / s.n_head) {
    w.SetU32(a + ".attention.key_length", s.head_dim);
    w.SetU32(a + ".attention.value_length", s.head_dim);
  }
  if (s.arch != ModelArch::kMamba2) {
    w.SetF32(a + ".rope.freq_base", s.rope_freq_base);
    w.SetU32(a + ".rope.dimension_count", s.head_dim);
  }
  w.SetF32(a + ".attention.layer_norm_rms_epsilon", s.rms_norm_eps);
  w.SetU32(a + ".vocab_size", s.n_vocab);
  auto set_f32 = [&](const char* key, float v) {
    if (v != 0.0f) w.SetF32(a + "." + key, v);
  };
  set_f32("embedding_scale", s.embedding_scale);
  set_f32("residual_scale", s.residual_scale);
  set_f32("attention.scale", s.attention_scale);
  set_f32("logit_scale", s.logit_scale);
  set_f32("attn_logit_softcapping", s.attn_softcap);
  set_f32("final_logit_softcapping", s.final_softcap);
  set_f32("rope.freq_base_swa", s.rope_freq_base_swa);
  set_f32("rope.scaling.attn_factor", s.rope_attn_factor);
  if (s.sliding_window != 0) w.SetU32(a + ".attention.sliding_window", s.sliding_window);
  if (s.sliding_window_pattern != 0) w.SetU32(a + ".attention.sliding_window_pattern", s.sliding_window_pattern);
  if (s.rope_original_context != 0) w.SetU32(a + ".rope.scaling.original_context_length", s.rope_original_context);
  if (s.rope_yarn_factor != 0.0f) {
    w.SetString(a + ".rope.scaling.type", "yarn");
    w.SetF32(a + ".rope.scaling.factor", s.rope_yarn_factor);
  }
  if (s.n_expert != 0) {
    w.SetU32(a + ".expert_count", s.n_expert);
    w.SetU32(a + ".expert_used_count", s.n_expert_used);
    w.SetU32(a + ".expert_feed_forward_length", s.n_ff_exp);
  }

  // Tokenizer: 256 byte tokens + learned merges, the chatml specials, then padding.
  // Learned once per process (it depends on nothing but the built-in corpus).
  static const BpeVocab kBpe = TrainByteLevelBpe(SyntheticCorpus(), kSyntheticBpeMerges);
  BpeVocab bpe = kBpe;
  std::vector<std::string> tokens = std::move(bpe.tokens);
  std::vector<int32_t> types(tokens.size(), kTokenNormal);
  const FamilyTokens family = TokensFor(s.arch);
  const int32_t first_special = static_cast<int32_t>(tokens.size());
  for (const char* special : family.specials) {
    tokens.push_back(special);
    types.push_back(kTokenControl);
  }
  for (size_t i = 0; tokens.size() < s.n_vocab; ++i) {
    tokens.push_back("[PAD" + std::to_string(i) + "]");
    types.push_back(kTokenUnused);
  }
  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetString("tokenizer.ggml.pre", s.tokenizer_pre);
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  w.SetI32Array("tokenizer.ggml.token_type", types);
  w.SetStringArray("tokenizer.ggml.merges", bpe.merges);
  w.SetU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(first_special + family.bos));  // <|endoftext|>
  w.SetU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(first_special + family.eos));  // <|im_end|>
  w.SetU32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(first_special + family.bos));
  w.SetBool("tokenizer.ggml.add_bos_token", false);
  w.SetString("tokenizer.chat_template", family.chat_template);
}

// Fills `n` floats of row `row` of tensor `name_hash`.
void FillRow(Init init, uint64_t seed, uint64_t name_hash, uint64_t row, float* out, uint64_t n) {
  if (init == Init::kOnes) {
    std::fill(out, out + n, 1.0f);
    return;
  }
  if (init == Init::kRopeShort || init == Init::kRopeLong) {  // LongRoPE-like rising divisors
    const float top = init == Init::kRopeShort ? 1.5f : 16.0f;
    for (uint64_t i = 0; i < n; ++i) out[i] = 1.0f + (top - 1.0f) * static_cast<float>(i) / static_cast<float>(n);
    return;
  }
  uint64_t s = seed ^ name_hash;
  uint64_t mixed = SplitMix64(&s) ^ (row * 0xD1B54A32D192ED03ull);
  Xoshiro256 rng(mixed);
  if (init == Init::kUnit) {
    for (uint64_t i = 0; i < n; ++i) out[i] = rng.Symmetric(1.0f);
    return;
  }
  if (init == Init::kSsmA || init == Init::kSsmDtBias || init == Init::kSsmConv) {
    // Mamba-2's initialisation: A = -exp(A_log) in [-16, -1]; dt in [0.001, 0.1] log-uniform
    // stored as its softplus inverse (the dt bias); conv taps uniform in ±1/√kernel (0.5).
    for (uint64_t i = 0; i < n; ++i) {
      const float u = rng.Symmetric(0.5f) + 0.5f;
      if (init == Init::kSsmA) {
        out[i] = -(1.0f + 15.0f * u);
      } else if (init == Init::kSsmDtBias) {
        const float dt = std::exp(std::log(0.001f) + u * (std::log(0.1f) - std::log(0.001f)));
        out[i] = std::log(std::expm1(dt));
      } else {
        out[i] = 2.0f * u - 1.0f;
        out[i] *= 0.5f;
      }
    }
    return;
  }
  // σ = 0.02 for weights (uniform in ±σ√3); biases a quarter of that.
  const float a = init == Init::kRandom ? 0.034641016f : 0.008660254f;
  for (uint64_t i = 0; i < n; ++i) out[i] = rng.Symmetric(a);
}

}  // namespace

std::vector<std::string> SyntheticShapeNames() {
  std::vector<std::string> names;
  for (const auto& s : AllShapes()) names.push_back(s.name);
  return names;
}

std::vector<uint32_t> HybridAttentionLayers(const SyntheticShape& s) {
  std::vector<uint32_t> attn;
  if (s.arch != ModelArch::kGraniteHybrid) return attn;
  for (uint32_t l : s.attention_layers)
    if (l < s.n_layer) attn.push_back(l);
  if (attn.empty() && s.n_layer >= 2) attn.push_back(s.n_layer / 2);
  return attn;
}

Result<SyntheticShape> FindSyntheticShape(std::string_view name) {
  std::string known;
  for (const auto& s : AllShapes()) {
    if (s.name == name) return s;
    known += (known.empty() ? "" : ", ") + s.name;
  }
  return InvalidArgumentError("unknown synthetic shape '" + std::string(name) + "' (known: " + known + ")");
}

ModelHParams SyntheticHParams(const SyntheticShape& s) {
  ModelHParams h;
  h.arch = s.arch;
  h.n_ctx_train = s.n_ctx;
  h.n_embd = s.n_embd;
  h.n_layer = s.n_layer;
  h.n_ff = s.n_ff;
  h.n_head = s.n_head;
  h.n_head_kv = s.n_head_kv;
  h.head_dim_k = h.head_dim_v = h.n_rot = s.head_dim;
  h.n_vocab = s.n_vocab;
  h.rope_freq_base = s.rope_freq_base;
  h.rope_scaling.original_context_length = s.n_ctx;
  h.rms_norm_eps = s.rms_norm_eps;
  h.rope_neox = s.arch != ModelArch::kLlama && s.arch != ModelArch::kGranite && s.arch != ModelArch::kGraniteHybrid;
  h.has_qkv_bias = s.qkv_bias;
  h.has_qk_norm = s.qk_norm;
  h.tied_output = s.tied_embeddings;
  // The per-architecture extras exactly as ReadArchHParams derives them from this metadata.
  h.embedding_scale = s.embedding_scale;
  h.residual_scale = s.residual_scale;
  h.attention_scale = s.attention_scale;
  h.logit_scale = s.logit_scale;
  if (s.rope_original_context != 0) h.rope_scaling.original_context_length = s.rope_original_context;
  if (s.rope_attn_factor != 0.0f) h.rope_scaling.attn_factor = s.rope_attn_factor;
  if (s.rope_yarn_factor != 0.0f) {
    h.rope_scaling.type = RopeScalingType::kYarn;
    h.rope_scaling.factor = s.rope_yarn_factor;
  }
  h.recurrent_layers = s.recurrent_layers;
  h.shortconv_l_cache = s.shortconv_l_cache;
  switch (s.arch) {
    case ModelArch::kOlmo2:
      h.pre_norms = false, h.post_norms = true, h.qk_norm_full = true;
      break;
    case ModelArch::kPhi3:
      h.fused_qkv = true, h.fused_gate_up = true, h.has_rope_long_short = true;
      h.query_scale = 1.0f / std::sqrt(float(s.head_dim));
      break;
    case ModelArch::kGemma2:
    case ModelArch::kGemma3: {
      const bool g2 = s.arch == ModelArch::kGemma2;
      h.embedding_scale = std::sqrt(float(s.n_embd));
      h.post_norms = true, h.gelu_ffn = true;
      h.query_scale = s.n_layer == (g2 ? 46u : 62u) ? 1.0f / std::sqrt(float(s.n_embd / s.n_head))
                                                    : 1.0f / std::sqrt(float(s.head_dim));
      h.attn_softcap = s.attn_softcap;
      h.final_softcap = s.final_softcap;
      h.sliding_window = s.sliding_window;
      if (s.sliding_window > 0) {
        h.swa_layers = SwaLayerPattern(s.n_layer, s.sliding_window_pattern != 0 ? s.sliding_window_pattern : g2 ? 2 : 6);
        h.rope_freq_base_swa = s.rope_freq_base_swa != 0.0f ? s.rope_freq_base_swa : g2 ? s.rope_freq_base : 10000.0f;
      }
      break;
    }
    case ModelArch::kQwen3Moe:
      h.n_expert = s.n_expert, h.n_expert_used = s.n_expert_used, h.n_ff_exp = s.n_ff_exp;
      h.expert_weights_norm = true;
      break;
    case ModelArch::kGptOss:
      h.n_expert = s.n_expert, h.n_expert_used = s.n_expert_used, h.n_ff_exp = s.n_ff_exp;
      h.expert_softmax_weight = true, h.swiglu_oai_alpha = 1.702f, h.swiglu_oai_limit = 7.0f;
      h.has_attn_sinks = true, h.has_out_bias = true, h.has_expert_biases = true;
      h.sliding_window = s.sliding_window;
      h.swa_layers = SwaLayerPattern(s.n_layer, 2);
      h.rope_freq_base_swa = s.rope_freq_base;
      h.rope_freq_scale_swa = 1.0f / h.rope_scaling.factor;
      break;
    default:
      break;
  }
  if (s.ssm_inner_size != 0) {  // issue 19: as ReadSsmKeys and the head_count_kv array read it back
    h.ssm.d_conv = s.ssm_conv_kernel, h.ssm.d_inner = s.ssm_inner_size, h.ssm.d_state = s.ssm_state_size;
    h.ssm.n_head = s.ssm_time_step_rank, h.ssm.n_group = s.ssm_group_count;
    h.recurrent_layers.assign(s.n_layer, false);
    for (uint32_t l = 0; l < s.n_layer; ++l) h.recurrent_layers[l] = IsSsmLayer(s, l);
    h.no_rope = s.no_rope;
  }
  if (s.arch == ModelArch::kMamba2) h.head_dim_k = h.head_dim_v = h.n_rot = 0;
  return h;
}

Result<std::string> DefaultShapeForArch(std::string_view arch) {
  SKV_ASSIGN_OR_RETURN(ModelArch a, ParseModelArch(arch));
  switch (a) {
    case ModelArch::kLlama: return std::string("smollm2-135m");
    case ModelArch::kQwen2: return std::string("qwen2.5-0.5b");
    case ModelArch::kQwen3: return std::string("tiny-qwen3");
    case ModelArch::kGranite: return std::string("granite-3.3-2b");
    case ModelArch::kOlmo2: return std::string("olmo2-1b");
    case ModelArch::kPhi3: return std::string("phi-3.5-mini");
    case ModelArch::kGemma2: return std::string("gemma2-2b");
    case ModelArch::kGemma3: return std::string("gemma3-1b");
    case ModelArch::kLfm2: return std::string("lfm2-350m");
    case ModelArch::kQwen3Moe: return std::string("qwen3-30b-a3b");
    case ModelArch::kMamba2: return std::string("mamba2-130m");
    case ModelArch::kGraniteHybrid: return std::string("granite-4.0-h-350m");
    case ModelArch::kGptOss: return std::string("gpt-oss-20b");
  }
  return InvalidArgumentError("no default shape for '" + std::string(arch) + "'");
}

Status MakeSyntheticModel(const SyntheticModelOptions& o, const std::string& path) {
  SKV_ASSIGN_OR_RETURN(SyntheticShape shape, FindSyntheticShape(o.shape));
  if (o.n_layer > 0) shape.n_layer = o.n_layer;
  if (shape.arch == ModelArch::kLfm2) shape.recurrent_layers = Lfm2RecurrentLayers(shape.n_layer);
  if (o.n_expert > 0) {
    if (shape.n_expert == 0)
      return InvalidArgumentError("shape '" + shape.name + "' has no experts; an expert count applies to MoE shapes only");
    if (o.n_expert < shape.n_expert_used)
      return InvalidArgumentError("expert count " + std::to_string(o.n_expert) + " is below the shape's " +
                                  std::to_string(shape.n_expert_used) + " experts used per token");
    shape.n_expert = o.n_expert;
  }
  if (!CanQuantize(o.type))
    return InvalidArgumentError("cannot write synthetic weights of type " + TensorTypeName(static_cast<uint32_t>(o.type)) +
                                " (supported: f32, f16, bf16, q8_0, q4_0, q5_0, q4_1, q5_1, q2_K..q6_K, iq4_nl, iq4_xs, mxfp4)");
  SKV_RETURN_IF_ERROR(SyntheticHParams(shape).Validate());
  GgufWriter w;
  SetMetadata(w, shape, o);
  std::vector<PlannedTensor> plan = PlanTensors(shape, o.type);
  if (o.metadata_only) plan.clear();
  for (auto& t : plan) t.type = RowFallbackType(t.type, t.shape[0]);
  for (const auto& t : plan) SKV_RETURN_IF_ERROR(w.AddTensor(t.name, static_cast<uint32_t>(t.type), t.shape));

  ThreadPool& pool = ThreadPool::Default();
  constexpr uint64_t kRowsPerTask = 16;
  constexpr uint64_t kChunkBytes = 32ull << 20;  // generate and write ~32 MiB at a time
  std::vector<uint8_t> buf;
  std::vector<std::vector<float>> scratch(pool.num_threads());
  return w.Write(
      path,
      [&](size_t index, const GgufWriterTensor& t, GgufTensorSink& sink) -> Status {
        const PlannedTensor& p = plan[index];
        const uint64_t ne0 = t.shape[0];
        uint64_t rows = 1;  // every row of every matrix (3-D expert tensors: ne1 * ne2 rows)
        for (size_t d = 1; d < t.shape.size(); ++d) rows *= t.shape[d];
        const uint64_t row_bytes = *RowSizeBytes(t.type_id, ne0);
        const uint64_t name_hash = Checksum64(p.name.data(), p.name.size());
        const uint64_t rows_per_chunk = std::max<uint64_t>(1, kChunkBytes / row_bytes);
        for (uint64_t r0 = 0; r0 < rows; r0 += rows_per_chunk) {
          const uint64_t nr = std::min(rows_per_chunk, rows - r0);
          buf.assign(nr * row_bytes, 0);
          {
            std::vector<Status> errors(pool.num_threads());
            const int64_t tasks = static_cast<int64_t>((nr + kRowsPerTask - 1) / kRowsPerTask);
            pool.ParallelFor(tasks, [&](int64_t task, int thread) {
              std::vector<float>& f = scratch[thread];
              f.resize(ne0);
              for (uint64_t r = task * kRowsPerTask; r < std::min(nr, (task + 1) * kRowsPerTask); ++r) {
                FillRow(p.init, o.seed, name_hash, r0 + r, f.data(), ne0);
                Status s = QuantizeRow(p.type, f.data(), buf.data() + r * row_bytes, static_cast<int64_t>(ne0));
                if (!s.ok()) errors[thread] = s;
              }
            });
            for (const Status& s : errors) SKV_RETURN_IF_ERROR(s);
          }
          SKV_RETURN_IF_ERROR(sink.Append(buf));
        }
        return Status::OK();
      },
      o.env);
}

}  // namespace swarmkv
