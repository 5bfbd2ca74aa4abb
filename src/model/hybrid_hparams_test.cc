// Hybrid architectures in model/ (issue 19): lfm2's per-layer head_count_kv array (0 = short-conv
// layer), shortconv.l_cache, the short-conv tensors bound instead of attention, token_embd_norm as
// the final norm, the --layers cut of the layer pattern, and the namespace covering the layout.
#include <gtest/gtest.h>

#include "base/testing.h"
#include "gguf/gguf_file.h"
#include "model/kv_namespace.h"
#include "model/model.h"
#include "model/synthetic_model.h"

namespace swarmkv {
namespace {

std::string Make(const std::string& shape, uint32_t layers = 0, bool metadata_only = false) {
  SyntheticModelOptions o;
  o.shape = shape;
  o.type = TensorType::kQ8_0;
  o.n_layer = layers;
  o.metadata_only = metadata_only;
  const std::string path = testing::TempDir() + "/" + shape + "-" + std::to_string(layers) + ".gguf";
  const Status st = MakeSyntheticModel(o, path);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return path;
}

TEST(HybridHParamsTest, TinyLfm2LoadsWithItsLayerPatternAndShortConvTensors) {
  ModelLoadOptions lo;
  lo.compute_fingerprint = false;
  auto m = Model::Load(Make("tiny-lfm2"), lo);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const ModelHParams& h = (*m)->hparams();
  EXPECT_EQ(h.arch, ModelArch::kLfm2);
  EXPECT_EQ(h.recurrent_layers, (std::vector<bool>{true, true, false, true}));
  EXPECT_EQ(h.n_attention_layers(), 1u);
  EXPECT_EQ(h.n_head_kv, 2u);
  EXPECT_EQ(h.shortconv_l_cache, 3u);
  EXPECT_TRUE(h.has_qk_norm);
  EXPECT_TRUE(h.rope_neox);
  const ModelWeights& w = (*m)->weights();
  EXPECT_TRUE(w.output_norm.present());
  for (uint32_t l = 0; l < h.n_layer; ++l) {
    const LayerWeights& lw = w.layers[l];
    EXPECT_EQ(lw.shortconv_conv.present(), h.is_recurrent(l)) << l;
    EXPECT_EQ(lw.shortconv_in_proj.present(), h.is_recurrent(l)) << l;
    EXPECT_EQ(lw.wq.present(), !h.is_recurrent(l)) << l;
    EXPECT_EQ(lw.q_norm.present(), !h.is_recurrent(l)) << l;
    EXPECT_TRUE(lw.ffn_gate.present()) << l;
  }
  EXPECT_EQ(w.layers[0].shortconv_conv.type(), TensorType::kF32);
  EXPECT_EQ(w.layers[0].shortconv_in_proj.ne1, 3 * 128);
}

TEST(HybridHParamsTest, LayersCutTheLfm2PatternAndAllConvIsAClearError) {
  auto f = GgufFile::Open(Make("lfm2-350m", 6, /*metadata_only=*/true));
  ASSERT_TRUE(f.ok());
  auto h = ModelHParams::FromGguf(**f);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->recurrent_layers, (std::vector<bool>{true, true, false, true, true, false}));
  EXPECT_EQ(h->n_head_kv, 8u);
  SyntheticModelOptions o;
  o.shape = "lfm2-350m";
  o.n_layer = 2;
  o.metadata_only = true;
  const Status st = MakeSyntheticModel(o, testing::TempDir() + "/lfm2-2.gguf");
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented) << st.ToString();
  EXPECT_NE(st.message().find("pure recurrent"), std::string::npos) << st.ToString();
}

TEST(HybridHParamsTest, TheNamespaceCoversTheLayerPatternAndTheConvLength) {
  ModelHParams h = SyntheticHParams(*FindSyntheticShape("tiny-lfm2"));
  const Hash128 fp{};
  const Hash128 base = ComputeKvNamespace(h, {}, fp);
  ModelHParams other = h;
  other.recurrent_layers = {true, false, true, true};
  EXPECT_NE(ComputeKvNamespace(other, {}, fp), base);
  other = h;
  other.shortconv_l_cache = 4;
  EXPECT_NE(ComputeKvNamespace(other, {}, fp), base);
  EXPECT_EQ(ComputeKvNamespace(h, {}, fp), base);
}

}  // namespace
}  // namespace swarmkv
