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
#include "model/synthetic_corpus.h"

namespace swarmkv {
namespace {

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
  return s;
}

const char* kChatmlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

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

enum class Init { kRandom, kOnes, kSmall };

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

std::vector<PlannedTensor> PlanTensors(const SyntheticShape& s, TensorType wtype) {
  std::vector<PlannedTensor> t;
  const uint64_t embd = s.n_embd, q = uint64_t{s.n_head} * s.head_dim, kv = uint64_t{s.n_head_kv} * s.head_dim;
  t.push_back({"token_embd.weight", {embd, s.n_vocab}, wtype, Init::kRandom});
  for (uint32_t i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    t.push_back({p + "attn_norm.weight", {embd}, TensorType::kF32, Init::kOnes});
    t.push_back({p + "attn_q.weight", {embd, q}, wtype, Init::kRandom});
    t.push_back({p + "attn_k.weight", {embd, kv}, wtype, Init::kRandom});
    t.push_back({p + "attn_v.weight", {embd, kv}, wtype, Init::kRandom});
    if (s.qkv_bias) {
      t.push_back({p + "attn_q.bias", {q}, TensorType::kF32, Init::kSmall});
      t.push_back({p + "attn_k.bias", {kv}, TensorType::kF32, Init::kSmall});
      t.push_back({p + "attn_v.bias", {kv}, TensorType::kF32, Init::kSmall});
    }
    if (s.qk_norm) {
      t.push_back({p + "attn_q_norm.weight", {s.head_dim}, TensorType::kF32, Init::kOnes});
      t.push_back({p + "attn_k_norm.weight", {s.head_dim}, TensorType::kF32, Init::kOnes});
    }
    t.push_back({p + "attn_output.weight", {q, embd}, wtype, Init::kRandom});
    t.push_back({p + "ffn_norm.weight", {embd}, TensorType::kF32, Init::kOnes});
    t.push_back({p + "ffn_gate.weight", {embd, s.n_ff}, wtype, Init::kRandom});
    t.push_back({p + "ffn_up.weight", {embd, s.n_ff}, wtype, Init::kRandom});
    t.push_back({p + "ffn_down.weight", {uint64_t{s.n_ff}, embd}, wtype, Init::kRandom});
  }
  t.push_back({"output_norm.weight", {embd}, TensorType::kF32, Init::kOnes});
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
  w.SetU32(a + ".attention.head_count_kv", s.n_head_kv);
  if (s.head_dim != s.n_embd / s.n_head) {
    w.SetU32(a + ".attention.key_length", s.head_dim);
    w.SetU32(a + ".attention.value_length", s.head_dim);
  }
  w.SetF32(a + ".rope.freq_base", s.rope_freq_base);
  w.SetU32(a + ".rope.dimension_count", s.head_dim);
  w.SetF32(a + ".attention.layer_norm_rms_epsilon", s.rms_norm_eps);
  w.SetU32(a + ".vocab_size", s.n_vocab);

  // Tokenizer: 256 byte tokens + learned merges, the chatml specials, then padding.
  // Learned once per process (it depends on nothing but the built-in corpus).
  static const BpeVocab kBpe = TrainByteLevelBpe(SyntheticCorpus(), kSyntheticBpeMerges);
  BpeVocab bpe = kBpe;
  std::vector<std::string> tokens = std::move(bpe.tokens);
  std::vector<int32_t> types(tokens.size(), kTokenNormal);
  const int32_t eot = static_cast<int32_t>(tokens.size());
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
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
  w.SetU32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(eot));      // <|endoftext|>
  w.SetU32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eot + 2));  // <|im_end|>
  w.SetU32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(eot));
  w.SetBool("tokenizer.ggml.add_bos_token", false);
  w.SetString("tokenizer.chat_template", kChatmlTemplate);
}

// Fills `n` floats of row `row` of tensor `name_hash`.
void FillRow(Init init, uint64_t seed, uint64_t name_hash, uint64_t row, float* out, uint64_t n) {
  if (init == Init::kOnes) {
    std::fill(out, out + n, 1.0f);
    return;
  }
  uint64_t s = seed ^ name_hash;
  uint64_t mixed = SplitMix64(&s) ^ (row * 0xD1B54A32D192ED03ull);
  Xoshiro256 rng(mixed);
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
  h.rope_neox = s.arch != ModelArch::kLlama;
  h.has_qkv_bias = s.qkv_bias;
  h.has_qk_norm = s.qk_norm;
  h.tied_output = s.tied_embeddings;
  return h;
}

Status MakeSyntheticModel(const SyntheticModelOptions& o, const std::string& path) {
  SKV_ASSIGN_OR_RETURN(SyntheticShape shape, FindSyntheticShape(o.shape));
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
        const uint64_t rows = t.shape.size() > 1 ? t.shape[1] : 1;
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
