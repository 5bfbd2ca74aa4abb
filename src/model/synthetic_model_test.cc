#include "model/synthetic_model.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include <cmath>
#include <cstring>

#include "base/testing.h"
#include "kernels/quants.h"
#include "model/bpe_trainer.h"
#include "model/model.h"
#include "model/synthetic_corpus.h"

namespace swarmkv {
namespace {

ModelLoadOptions NoCache() {
  ModelLoadOptions o;
  o.fingerprint.cache_path = "";
  return o;
}

std::string Make(const std::string& shape, TensorType type, uint64_t seed, const std::string& name,
                 bool metadata_only = false) {
  SyntheticModelOptions o;
  o.shape = shape;
  o.type = type;
  o.seed = seed;
  o.metadata_only = metadata_only;
  std::string path = testing::TempDir() + "/" + name;
  Status s = MakeSyntheticModel(o, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return path;
}

std::string ReadAll(const std::string& path) { return Env::Default()->ReadFile(path).value(); }

void ExpectHParamsEqual(const ModelHParams& a, const ModelHParams& b, bool flags_from_tensors) {
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.n_ctx_train, b.n_ctx_train);
  EXPECT_EQ(a.n_embd, b.n_embd);
  EXPECT_EQ(a.n_layer, b.n_layer);
  EXPECT_EQ(a.n_ff, b.n_ff);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.n_head_kv, b.n_head_kv);
  EXPECT_EQ(a.head_dim_k, b.head_dim_k);
  EXPECT_EQ(a.head_dim_v, b.head_dim_v);
  EXPECT_EQ(a.n_rot, b.n_rot);
  EXPECT_EQ(a.n_vocab, b.n_vocab);
  EXPECT_EQ(a.rope_freq_base, b.rope_freq_base);
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.rope_neox, b.rope_neox);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  if (flags_from_tensors) {
    EXPECT_EQ(a.has_qkv_bias, b.has_qkv_bias);
    EXPECT_EQ(a.has_qk_norm, b.has_qk_norm);
    EXPECT_EQ(a.tied_output, b.tied_output);
  }
}

TEST(SyntheticModelTest, TinyLoadsInEveryType) {
  for (TensorType type : {TensorType::kF32, TensorType::kF16, TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ5_0}) {
    SCOPED_TRACE(TensorTypeName(static_cast<uint32_t>(type)));
    std::string path = Make("tiny", type, 1, "tiny.gguf");
    auto m = Model::Load(path, NoCache());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    auto shape = FindSyntheticShape("tiny").value();
    ExpectHParamsEqual((*m)->hparams(), SyntheticHParams(shape), true);
    const ModelWeights& w = (*m)->weights();
    EXPECT_EQ(w.layers[0].wq.type(), type);
    EXPECT_EQ(w.layers[0].attn_norm.type(), TensorType::kF32);
    EXPECT_FALSE((*m)->hparams().tied_output);
    EXPECT_NE(w.output.data, w.token_embd.data);
    // Weights are finite, small and not all equal; norms are exactly 1.
    std::vector<float> row(w.layers[1].ffn_down.ne0);
    ASSERT_TRUE(DequantizeRow(w.layers[1].ffn_down.type(), w.layers[1].ffn_down.row(3), row.data(),
                              static_cast<int64_t>(row.size())).ok());
    float max_abs = 0;
    for (float x : row) {
      ASSERT_TRUE(std::isfinite(x));
      max_abs = std::max(max_abs, std::fabs(x));
    }
    EXPECT_GT(max_abs, 0.01f);
    EXPECT_LT(max_abs, 0.05f);
    EXPECT_NE(row[0], row[1]);
    float norm0;
    std::memcpy(&norm0, w.output_norm.data, 4);
    EXPECT_EQ(norm0, 1.0f);
  }
}

TEST(SyntheticModelTest, QwenVariantsBindBiasesAndNorms) {
  auto q2 = Model::Load(Make("tiny-qwen2", TensorType::kF16, 3, "q2.gguf"), NoCache());
  ASSERT_TRUE(q2.ok()) << q2.status().ToString();
  EXPECT_EQ((*q2)->hparams().arch, ModelArch::kQwen2);
  EXPECT_TRUE((*q2)->hparams().has_qkv_bias);
  EXPECT_TRUE((*q2)->hparams().rope_neox);
  EXPECT_TRUE((*q2)->hparams().tied_output);
  EXPECT_TRUE((*q2)->weights().layers[3].bk.present());
  EXPECT_EQ((*q2)->weights().layers[3].bk.ne0, 64);
  EXPECT_EQ((*q2)->weights().output.data, (*q2)->weights().token_embd.data);

  auto q3 = Model::Load(Make("tiny-qwen3", TensorType::kQ8_0, 3, "q3.gguf"), NoCache());
  ASSERT_TRUE(q3.ok()) << q3.status().ToString();
  const ModelHParams& h = (*q3)->hparams();
  EXPECT_EQ(h.arch, ModelArch::kQwen3);
  EXPECT_TRUE(h.has_qk_norm);
  EXPECT_EQ(h.head_dim_k, 64u);  // from attention.key_length, not n_embd / n_head
  EXPECT_EQ(h.q_dim(), 256u);
  EXPECT_EQ((*q3)->weights().layers[0].q_norm.ne0, 64);
  EXPECT_EQ((*q3)->weights().layers[0].wo.ne0, 256);
}

// Every per-architecture extra read back from a file (model/arch_hparams.cc) equals what the
// synthetic shape declares, for the tiny variant (weights bound) and the real shape (metadata).
void ExpectArchExtrasEqual(const ModelHParams& a, const ModelHParams& b, bool flags_from_tensors) {
  EXPECT_EQ(a.embedding_scale, b.embedding_scale);
  EXPECT_EQ(a.residual_scale, b.residual_scale);
  EXPECT_EQ(a.attention_scale, b.attention_scale);
  EXPECT_EQ(a.query_scale, b.query_scale);
  EXPECT_EQ(a.logit_scale, b.logit_scale);
  EXPECT_EQ(a.attn_softcap, b.attn_softcap);
  EXPECT_EQ(a.final_softcap, b.final_softcap);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_EQ(a.swa_layers, b.swa_layers);
  if (a.sliding_window > 0) {
    EXPECT_EQ(a.rope_freq_base_swa, b.rope_freq_base_swa);
  }
  EXPECT_EQ(a.pre_norms, b.pre_norms);
  EXPECT_EQ(a.post_norms, b.post_norms);
  EXPECT_EQ(a.qk_norm_full, b.qk_norm_full);
  EXPECT_EQ(a.fused_gate_up, b.fused_gate_up);
  EXPECT_EQ(a.gelu_ffn, b.gelu_ffn);
  if (flags_from_tensors) {
    EXPECT_EQ(a.fused_qkv, b.fused_qkv);
    EXPECT_EQ(a.has_rope_long_short, b.has_rope_long_short);
  }
  EXPECT_EQ(a.rope_scaling.original_context_length, b.rope_scaling.original_context_length);
  EXPECT_EQ(a.rope_scaling.attn_factor, b.rope_scaling.attn_factor);
  EXPECT_EQ(a.n_expert, b.n_expert);
  EXPECT_EQ(a.n_expert_used, b.n_expert_used);
  EXPECT_EQ(a.n_ff_exp, b.n_ff_exp);
  EXPECT_EQ(a.expert_weights_norm, b.expert_weights_norm);
  EXPECT_EQ(a.expert_softmax_weight, b.expert_softmax_weight);
  EXPECT_EQ(a.swiglu_oai_alpha, b.swiglu_oai_alpha);
  EXPECT_EQ(a.swiglu_oai_limit, b.swiglu_oai_limit);
  EXPECT_EQ(a.has_attn_sinks, b.has_attn_sinks);
  EXPECT_EQ(a.has_out_bias, b.has_out_bias);
  EXPECT_EQ(a.has_expert_biases, b.has_expert_biases);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
  if (a.sliding_window > 0) {
    EXPECT_EQ(a.rope_freq_scale_swa, b.rope_freq_scale_swa);
  }
}

TEST(SyntheticModelTest, OtherArchitecturesRoundTrip) {
  for (const char* name : {"tiny-granite", "tiny-olmo2", "tiny-phi3", "tiny-gemma2", "tiny-gemma3",
                           "tiny-qwen3moe", "tiny-gpt-oss"}) {
    SCOPED_TRACE(name);
    auto m = Model::Load(Make(name, TensorType::kQ8_0, 2, "arch.gguf"), NoCache());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    const ModelHParams want = SyntheticHParams(FindSyntheticShape(name).value());
    ExpectHParamsEqual((*m)->hparams(), want, true);
    ExpectArchExtrasEqual((*m)->hparams(), want, true);
  }
  for (const char* name : {"granite-3.3-2b", "olmo2-1b", "phi-3.5-mini", "gemma2-2b", "gemma3-1b", "gemma3-270m",
                           "qwen3-30b-a3b", "gpt-oss-20b"}) {
    SCOPED_TRACE(name);
    auto f = GgufFile::Open(Make(name, TensorType::kQ8_0, 0, "meta.gguf", /*metadata_only=*/true));
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    auto h = ModelHParams::FromGguf(**f);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    const ModelHParams want = SyntheticHParams(FindSyntheticShape(name).value());
    ExpectHParamsEqual(*h, want, false);
    ExpectArchExtrasEqual(*h, want, false);
  }
}

TEST(SyntheticModelTest, FamilyConventionsBindAsLlamaCppReadsThem) {
  // olmo2: no pre-norms, post-norms, q/k norms over the whole vector.
  auto olmo = Model::Load(Make("tiny-olmo2", TensorType::kF16, 1, "olmo.gguf"), NoCache());
  ASSERT_TRUE(olmo.ok()) << olmo.status().ToString();
  const LayerWeights& ol = (*olmo)->weights().layers[1];
  EXPECT_FALSE(ol.attn_norm.present());
  EXPECT_FALSE(ol.ffn_norm.present());
  EXPECT_TRUE(ol.attn_post_norm.present() && ol.ffn_post_norm.present());
  EXPECT_EQ(ol.q_norm.ne0, 128);  // q_dim
  EXPECT_EQ(ol.k_norm.ne0, 64);   // k_dim
  // phi3: q/k/v and gate/up are row ranges of the fused tensors, in that order.
  auto phi = Model::Load(Make("tiny-phi3", TensorType::kQ8_0, 1, "phi.gguf"), NoCache());
  ASSERT_TRUE(phi.ok()) << phi.status().ToString();
  const LayerWeights& pl = (*phi)->weights().layers[0];
  EXPECT_EQ(pl.wk.data, pl.wq.data + 128 * pl.wq.row_bytes);
  EXPECT_EQ(pl.wv.data, pl.wk.data + 128 * pl.wk.row_bytes);
  EXPECT_EQ(pl.ffn_up.data, pl.ffn_gate.data + 384 * pl.ffn_gate.row_bytes);
  EXPECT_EQ(pl.ffn_gate.ne1, 384);
  EXPECT_TRUE((*phi)->weights().rope_long.present() && (*phi)->weights().rope_short.present());
  // gemma3: every third layer global (pattern 3), the others sliding; gemma2 ties the output.
  auto g3 = Model::Load(Make("tiny-gemma3", TensorType::kF16, 1, "g3.gguf"), NoCache());
  ASSERT_TRUE(g3.ok()) << g3.status().ToString();
  EXPECT_EQ((*g3)->hparams().swa_layers, (std::vector<bool>{true, true, false, true}));
  EXPECT_EQ((*g3)->hparams().rope_freq_base_swa, 10000.0f);
  EXPECT_FLOAT_EQ((*g3)->hparams().embedding_scale, std::sqrt(128.0f));
  auto g2 = Model::Load(Make("tiny-gemma2", TensorType::kF16, 1, "g2.gguf"), NoCache());
  ASSERT_TRUE(g2.ok()) << g2.status().ToString();
  EXPECT_EQ((*g2)->hparams().swa_layers, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ((*g2)->weights().output.data, (*g2)->weights().token_embd.data);
}

// gpt-oss: llama.cpp's tensor names — the FFN pre-norm under post_attention_norm (bound as
// ffn_norm, no post-norm), sinks per query head, the attn_output / router / expert biases, MXFP4
// experts whatever the type; even layers slide (period 2), YaRN read back.
TEST(SyntheticModelTest, GptOssBindsSinksBiasesAndMxfp4Experts) {
  auto m = Model::Load(Make("tiny-gpt-oss", TensorType::kQ8_0, 1, "gptoss.gguf"), NoCache());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const ModelHParams& h = (*m)->hparams();
  EXPECT_EQ(h.arch, ModelArch::kGptOss);
  EXPECT_EQ(ModelArchName(h.arch), "gpt-oss");
  EXPECT_EQ(h.swa_layers, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(h.sliding_window, 24u);
  EXPECT_EQ(h.rope_scaling.type, RopeScalingType::kYarn);
  EXPECT_EQ(h.rope_scaling.original_context_length, 128u);
  EXPECT_TRUE(h.rope_neox);
  EXPECT_TRUE(h.has_qkv_bias);
  EXPECT_FALSE(h.tied_output);
  const LayerWeights& l = (*m)->weights().layers[1];
  EXPECT_TRUE(l.ffn_norm.present());
  EXPECT_FALSE(l.attn_post_norm.present());
  EXPECT_EQ(l.attn_sinks.ne0, 4);  // n_head
  EXPECT_EQ(l.bo.ne0, 128);
  EXPECT_EQ(l.ffn_gate_inp_b.ne0, 8);
  EXPECT_EQ(l.ffn_gate_exps_b.ne0, 64);
  EXPECT_EQ(l.ffn_gate_exps_b.ne1, 8);
  EXPECT_EQ(l.ffn_down_exps_b.ne0, 128);
  for (const TensorRef* e : {&l.ffn_gate_exps, &l.ffn_up_exps, &l.ffn_down_exps}) EXPECT_EQ(e->type(), TensorType::kMXFP4);
  EXPECT_EQ(l.wq.type(), TensorType::kQ8_0);
}

// qwen3moe: the router and the 3-D expert tensors bound as llama.cpp names and shapes them
// ({n_embd, n_ff_exp, n_expert} for gate/up, {n_ff_exp, n_embd, n_expert} for down), no dense
// FFN; --experts cuts a real MoE shape's expert count and nothing else.
TEST(SyntheticModelTest, MoeExpertsBindAsThreeDimensionalTensors) {
  auto m = Model::Load(Make("tiny-qwen3moe", TensorType::kQ8_0, 1, "moe.gguf"), NoCache());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const ModelHParams& h = (*m)->hparams();
  EXPECT_EQ(h.arch, ModelArch::kQwen3Moe);
  EXPECT_EQ(h.n_expert, 8u);
  EXPECT_EQ(h.n_expert_used, 2u);
  EXPECT_EQ(h.n_ff_exp, 64u);
  EXPECT_TRUE(h.expert_weights_norm);
  const LayerWeights& l = (*m)->weights().layers[3];
  EXPECT_FALSE(l.ffn_gate.present() || l.ffn_up.present() || l.ffn_down.present());
  EXPECT_EQ(l.ffn_gate_inp.type(), TensorType::kF32);
  EXPECT_EQ(l.ffn_gate_inp.ne1, 8);
  for (const TensorRef* t : {&l.ffn_gate_exps, &l.ffn_up_exps}) {
    EXPECT_EQ(t->ne0, 128);
    EXPECT_EQ(t->ne1, 64);
    EXPECT_EQ(t->ne2, 8);
    EXPECT_EQ(t->type(), TensorType::kQ8_0);
  }
  EXPECT_EQ(l.ffn_down_exps.ne0, 64);
  EXPECT_EQ(l.ffn_down_exps.ne1, 128);
  EXPECT_EQ(l.ffn_down_exps.ne2, 8);

  SyntheticModelOptions o;
  o.shape = "qwen3-30b-a3b";
  o.n_layer = 2;
  o.n_expert = 16;
  o.metadata_only = true;
  const std::string path = testing::TempDir() + "/moe-cut.gguf";
  ASSERT_TRUE(MakeSyntheticModel(o, path).ok());
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok());
  auto cut = ModelHParams::FromGguf(**f);
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  EXPECT_EQ(cut->n_expert, 16u);
  EXPECT_EQ(cut->n_expert_used, 8u);
  EXPECT_EQ(cut->n_ff_exp, 768u);
  EXPECT_EQ(DefaultShapeForArch("qwen3moe").value(), "qwen3-30b-a3b");
  o.n_expert = 4;  // below top-8
  EXPECT_EQ(MakeSyntheticModel(o, path).code(), StatusCode::kInvalidArgument);
  o.shape = "tiny";  // a dense shape
  o.n_expert = 16;
  EXPECT_EQ(MakeSyntheticModel(o, path).code(), StatusCode::kInvalidArgument);
}

TEST(SyntheticModelTest, LayersOptionCutsARealShape) {
  SyntheticModelOptions o;
  o.shape = "gemma3-270m";
  o.n_layer = 2;
  o.metadata_only = true;
  const std::string path = testing::TempDir() + "/cut.gguf";
  ASSERT_TRUE(MakeSyntheticModel(o, path).ok());
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok());
  auto h = ModelHParams::FromGguf(**f);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->n_layer, 2u);
  EXPECT_EQ(h->swa_layers.size(), 2u);
  EXPECT_EQ(DefaultShapeForArch("gemma3").value(), "gemma3-1b");
  EXPECT_EQ(DefaultShapeForArch("phi3").value(), "phi-3.5-mini");
  EXPECT_FALSE(DefaultShapeForArch("mamba").ok());
}

TEST(SyntheticModelTest, BigShapesMetadata) {
  for (const char* name : {"smollm2-135m", "qwen2.5-0.5b"}) {
    SCOPED_TRACE(name);
    std::string path = Make(name, TensorType::kQ8_0, 0, "meta.gguf", /*metadata_only=*/true);
    auto f = GgufFile::Open(path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    auto h = ModelHParams::FromGguf(**f);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    ExpectHParamsEqual(*h, SyntheticHParams(FindSyntheticShape(name).value()), false);
    EXPECT_EQ((*f)->GetStringArray("tokenizer.ggml.tokens")->size(), h->n_vocab);
  }
  auto smol = SyntheticHParams(FindSyntheticShape("smollm2-135m").value());
  EXPECT_EQ(smol.n_embd, 576u);
  EXPECT_EQ(smol.n_layer, 30u);
  EXPECT_EQ(smol.n_head, 9u);
  EXPECT_EQ(smol.n_head_kv, 3u);
  EXPECT_EQ(smol.head_dim_k, 64u);
  EXPECT_EQ(smol.n_ff, 1536u);
  EXPECT_EQ(smol.n_vocab, 49152u);
  EXPECT_EQ(smol.rope_freq_base, 100000.0f);
  EXPECT_EQ(smol.n_ctx_train, 16384u);
  EXPECT_TRUE(smol.tied_output);
  auto qwen = SyntheticHParams(FindSyntheticShape("qwen2.5-0.5b").value());
  EXPECT_EQ(qwen.arch, ModelArch::kQwen2);
  EXPECT_EQ(qwen.n_embd, 896u);
  EXPECT_EQ(qwen.n_layer, 24u);
  EXPECT_EQ(qwen.n_head, 14u);
  EXPECT_EQ(qwen.n_head_kv, 2u);
  EXPECT_EQ(qwen.n_ff, 4864u);
  EXPECT_EQ(qwen.n_vocab, 151936u);
  EXPECT_EQ(qwen.rope_freq_base, 1000000.0f);
  EXPECT_EQ(qwen.rms_norm_eps, 1e-6f);
  EXPECT_EQ(qwen.n_ctx_train, 32768u);
  EXPECT_TRUE(qwen.has_qkv_bias);
}

TEST(SyntheticModelTest, DeterministicForASeed) {
  std::string a = ReadAll(Make("tiny", TensorType::kQ4_0, 42, "a.gguf"));
  std::string b = ReadAll(Make("tiny", TensorType::kQ4_0, 42, "b.gguf"));
  std::string c = ReadAll(Make("tiny", TensorType::kQ4_0, 43, "c.gguf"));
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
  // A pinned digest of an f32 file (PRNG + BPE + writer only, no quantizer): the same on every
  // machine and build. If the definition changes on purpose, update this value (and say so:
  // every synthetic model's namespace changes).
  std::string f32 = ReadAll(Make("tiny", TensorType::kF32, 42, "pinned.gguf"));
  EXPECT_EQ(HashBytes(f32).ToHex(), "5e5dff5bf86fc7978ec01bc20ab0824c");
}

TEST(SyntheticModelTest, TokenizerMetadata) {
  auto f = GgufFile::Open(Make("tiny", TensorType::kF32, 0, "tok.gguf"));
  ASSERT_TRUE(f.ok());
  const GgufFile& g = **f;
  EXPECT_EQ(g.GetString("tokenizer.ggml.model").value(), "gpt2");
  EXPECT_EQ(g.GetString("tokenizer.ggml.pre").value(), "gpt-2");
  auto tokens = g.GetStringArray("tokenizer.ggml.tokens").value();
  auto merges = g.GetStringArray("tokenizer.ggml.merges").value();
  auto types = g.GetI32Array("tokenizer.ggml.token_type").value();
  ASSERT_EQ(tokens.size(), 4096u);
  ASSERT_EQ(types.size(), tokens.size());
  EXPECT_GE(merges.size(), 2000u);
  EXPECT_EQ(tokens[' '], "Ġ");
  EXPECT_EQ(tokens['\n'], "Ċ");
  EXPECT_EQ(tokens['a'], "a");
  uint32_t bos = g.GetU32("tokenizer.ggml.bos_token_id").value();
  uint32_t eos = g.GetU32("tokenizer.ggml.eos_token_id").value();
  EXPECT_EQ(tokens[bos], "<|endoftext|>");
  EXPECT_EQ(tokens[bos + 1], "<|im_start|>");
  EXPECT_EQ(tokens[eos], "<|im_end|>");
  EXPECT_EQ(types[eos], 3);
  EXPECT_EQ(types[100], 1);
  EXPECT_EQ(types.back(), 5);
  // Tokens are unique, and each merge's result is a token.
  std::set<std::string_view> unique(tokens.begin(), tokens.end());
  EXPECT_EQ(unique.size(), tokens.size());
  for (std::string_view m : merges) {
    size_t sp = m.find(' ');
    ASSERT_NE(sp, std::string_view::npos);
    std::string joined = std::string(m.substr(0, sp)) + std::string(m.substr(sp + 1));
    EXPECT_TRUE(unique.count(joined)) << m;
  }
  EXPECT_NE(g.GetString("tokenizer.chat_template").value().find("<|im_start|>"), std::string::npos);
}

TEST(BpeTrainerTest, ByteToUnicodeIsGpt2Mapping) {
  EXPECT_EQ(ByteToUnicode('!'), "!");
  EXPECT_EQ(ByteToUnicode(' '), "Ġ");   // U+0120
  EXPECT_EQ(ByteToUnicode('\n'), "Ċ");  // U+010A
  EXPECT_EQ(ByteToUnicode(0), "Ā");     // U+0100
  EXPECT_EQ(ByteToUnicode(0xAD), "Ń");  // U+0143, the last remapped byte
  EXPECT_EQ(ByteToUnicode(0xE9), "é");
}

TEST(BpeTrainerTest, LearnsFrequentPairsFirstAndDeterministically) {
  BpeVocab v = TrainByteLevelBpe("aaab aaab aaab xy", 3);
  ASSERT_EQ(v.merges.size(), 3u);
  EXPECT_EQ(v.merges[0], "a a");
  BpeVocab again = TrainByteLevelBpe("aaab aaab aaab xy", 3);
  EXPECT_EQ(v.merges, again.merges);
  EXPECT_EQ(v.tokens, again.tokens);
  BpeVocab corpus = TrainByteLevelBpe(SyntheticCorpus(), kSyntheticBpeMerges);
  EXPECT_EQ(corpus.merges.size(), kSyntheticBpeMerges);
  EXPECT_EQ(corpus.merges[0].substr(0, 2), "Ġ");
}

// The trainer keeps pair counts incrementally; this oracle recounts every pair of every word at
// each step (the textbook algorithm) and must choose the same merges in the same order.
std::vector<std::string> NaiveMerges(std::string_view text, size_t max_merges) {
  std::map<std::string, int64_t> counts;
  for (size_t i = 0; i < text.size();) {  // split as the trainer's test inputs need: on spaces
    size_t j = text.find(' ', i + 1);
    if (j == std::string_view::npos) j = text.size();
    ++counts[std::string(text.substr(i, j - i))];
    i = j;
  }
  std::vector<std::pair<std::vector<std::string>, int64_t>> words;
  for (const auto& [w, n] : counts) {
    std::vector<std::string> syms;
    for (char c : w) syms.emplace_back(1, c);
    words.push_back({syms, n});
  }
  std::vector<std::string> merges;
  while (merges.size() < max_merges) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;  // ordered: ties go to the smallest
    for (const auto& [syms, n] : words)
      for (size_t i = 0; i + 1 < syms.size(); ++i) pairs[{syms[i], syms[i + 1]}] += n;
    if (pairs.empty()) break;
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;
    const auto [l, r] = best->first;
    merges.push_back(BytesToUnicode(l) + " " + BytesToUnicode(r));
    for (auto& [syms, n] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < syms.size(); ++i) {
        if (i + 1 < syms.size() && syms[i] == l && syms[i + 1] == r) {
          out.push_back(l + r);
          ++i;
        } else {
          out.push_back(syms[i]);
        }
      }
      syms = std::move(out);
    }
  }
  return merges;
}

TEST(BpeTrainerTest, IncrementalCountsChooseWhatAFullRecountChooses) {
  // Words separated by single spaces (" word" pre-tokens) so the oracle's split is the trainer's.
  std::mt19937 rng(5);
  for (int round = 0; round < 4; ++round) {
    std::string text;
    for (int w = 0; w < 400; ++w) {
      text += ' ';
      const int len = 1 + static_cast<int>(rng() % 9);
      for (int c = 0; c < len; ++c) text += static_cast<char>('a' + rng() % (round == 0 ? 2 : 5));
    }
    for (size_t n : {size_t{1}, size_t{40}, size_t{400}})
      EXPECT_EQ(TrainByteLevelBpe(text, n).merges, NaiveMerges(text, n)) << "round " << round << " merges " << n;
  }
}

TEST(SyntheticModelTest, BadOptions) {
  SyntheticModelOptions o;
  o.shape = "huge";
  Status s = MakeSyntheticModel(o, testing::TempDir() + "/x.gguf");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tiny"), std::string::npos);
  o.shape = "tiny";
  o.type = TensorType::kQ8_K;  // an activation-only type
  EXPECT_EQ(MakeSyntheticModel(o, testing::TempDir() + "/x.gguf").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace swarmkv

namespace swarmkv {
namespace {

TEST(SyntheticModelTest, ArchExtrasSeparateKvNamespaces) {
  const Hash128 fp{};
  const KvCacheConfig kv;
  ModelHParams g3 = SyntheticHParams(FindSyntheticShape("tiny-gemma3").value());
  ModelHParams other = g3;
  other.sliding_window = 41;
  EXPECT_NE(ComputeKvNamespace(g3, kv, fp), ComputeKvNamespace(other, kv, fp));
  other = g3;
  other.rope_freq_base_swa = 20000.0f;
  EXPECT_NE(ComputeKvNamespace(g3, kv, fp), ComputeKvNamespace(other, kv, fp));
  ModelHParams gr = SyntheticHParams(FindSyntheticShape("tiny-granite").value());
  ModelHParams gr2 = gr;
  gr2.residual_scale = 0.5f;
  EXPECT_NE(ComputeKvNamespace(gr, kv, fp), ComputeKvNamespace(gr2, kv, fp));
  // llama/qwen namespaces do not hash the extras (their tier entries stay valid).
  ModelHParams ll = SyntheticHParams(FindSyntheticShape("tiny").value());
  ModelHParams ll2 = ll;
  ll2.embedding_scale = 3.0f;
  EXPECT_EQ(ComputeKvNamespace(ll, kv, fp), ComputeKvNamespace(ll2, kv, fp));
}

}  // namespace
}  // namespace swarmkv
