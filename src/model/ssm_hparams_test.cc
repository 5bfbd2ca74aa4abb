// Issue 19: mamba2 / granitehybrid hyper-parameters, layer layout and weight binding, on the
// synthetic models make-model writes (llama.cpp's keys and tensor names).
#include "model/ssm_hparams.h"

#include <gtest/gtest.h>

#include <functional>

#include "base/testing.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/synthetic_model.h"

namespace swarmkv {
namespace {

ModelLoadOptions NoCache() {
  ModelLoadOptions o;
  o.fingerprint.cache_path = "";
  return o;
}

std::string Make(const std::string& shape, TensorType type, const std::string& name, uint32_t n_layer = 0,
                 bool metadata_only = false) {
  SyntheticModelOptions o;
  o.shape = shape;
  o.type = type;
  o.seed = 19;
  o.n_layer = n_layer;
  o.metadata_only = metadata_only;
  const std::string path = testing::TempDir() + "/" + name;
  const Status s = MakeSyntheticModel(o, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return path;
}

void ExpectSsmEqual(const SsmHParams& a, const SsmHParams& b) {
  EXPECT_EQ(a.d_conv, b.d_conv);
  EXPECT_EQ(a.d_inner, b.d_inner);
  EXPECT_EQ(a.d_state, b.d_state);
  EXPECT_EQ(a.n_head, b.n_head);
  EXPECT_EQ(a.n_group, b.n_group);
}

TEST(SsmHParamsTest, TinyMamba2LoadsWithEveryLayerAMixer) {
  for (TensorType type : {TensorType::kF16, TensorType::kQ8_0}) {
    auto m = Model::Load(Make("tiny-mamba2", type, "m2.gguf"), NoCache());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    const ModelHParams& h = (*m)->hparams();
    EXPECT_EQ(h.arch, ModelArch::kMamba2);
    EXPECT_TRUE(h.attention_free());
    EXPECT_EQ(h.n_head, 0u);
    EXPECT_EQ(h.n_ff, 0u);
    ExpectSsmEqual(h.ssm, SyntheticHParams(FindSyntheticShape("tiny-mamba2").value()).ssm);
    EXPECT_EQ(h.recurrent_layers, (std::vector<bool>{true, true, true}));
    EXPECT_EQ(h.ssm.head_dim(), 16u);
    EXPECT_EQ(h.ssm.conv_channels(), 256u + 2 * 2 * 48);
    EXPECT_EQ(h.ssm.conv_state_floats(), 3u * (256 + 2 * 2 * 48));
    EXPECT_EQ(h.ssm.ssm_state_floats(), 256u * 48);
    const LayerWeights& l = (*m)->weights().layers[2];
    EXPECT_EQ(l.ssm.in.ne1, 2 * 256 + 2 * 2 * 48 + 16);
    EXPECT_EQ(l.ssm.in.type(), type);
    EXPECT_EQ(l.ssm.conv1d.ne0, 4);
    EXPECT_EQ(l.ssm.conv1d.type(), TensorType::kF32);
    EXPECT_TRUE(l.ssm.conv1d_b.present());
    EXPECT_EQ(l.ssm.a.ne1, 16);
    EXPECT_EQ(l.ssm.norm.ne0, 128);  // d_inner / n_group
    EXPECT_EQ(l.ssm.norm.ne1, 2);
    EXPECT_FALSE(l.wq.present());
    EXPECT_FALSE(l.ffn_up.present());  // mamba2 has no FFN
    // A = -exp(A_log) is negative, D = 1.
    const float* a = reinterpret_cast<const float*>(l.ssm.a.data);
    for (int i = 0; i < 16; ++i) EXPECT_LT(a[i], -0.99f);
    EXPECT_EQ(reinterpret_cast<const float*>(l.ssm.d.data)[3], 1.0f);
  }
}

TEST(SsmHParamsTest, TinyGraniteHybridMixesLayersByHeadCountKv) {
  auto m = Model::Load(Make("tiny-granitehybrid", TensorType::kQ8_0, "gh.gguf"), NoCache());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const ModelHParams& h = (*m)->hparams();
  EXPECT_EQ(h.arch, ModelArch::kGraniteHybrid);
  EXPECT_EQ(h.recurrent_layers, (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(h.n_head_kv, 2u);
  EXPECT_FALSE(h.rope_neox);
  EXPECT_FALSE(h.no_rope);
  EXPECT_FLOAT_EQ(h.embedding_scale, 12.0f);
  EXPECT_FLOAT_EQ(h.logit_scale, 8.0f);
  ExpectSsmEqual(h.ssm, SyntheticHParams(FindSyntheticShape("tiny-granitehybrid").value()).ssm);
  const auto& layers = (*m)->weights().layers;
  EXPECT_TRUE(layers[0].ssm.in.present() && !layers[0].wq.present() && layers[0].ffn_up.present());
  EXPECT_TRUE(layers[1].wq.present() && !layers[1].ssm.in.present() && layers[1].ffn_up.present());
}

TEST(SsmHParamsTest, RealShapesMetadataAndCutShortLayouts) {
  {
    auto f = GgufFile::Open(Make("granite-4.0-h-350m", TensorType::kQ8_0, "g350.gguf", 0, true));
    ASSERT_TRUE(f.ok());
    auto h = ModelHParams::FromGguf(**f);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_TRUE(h->no_rope);
    EXPECT_EQ(h->n_head, 12u);
    EXPECT_EQ(h->n_head_kv, 4u);
    EXPECT_EQ(h->ssm.head_dim(), 32u);
    EXPECT_EQ(h->ssm.d_state, 128u);
    for (uint32_t l = 0; l < 32; ++l) EXPECT_EQ(h->is_recurrent(l), l != 10 && l != 13 && l != 17 && l != 27) << l;
    ExpectSsmEqual(h->ssm, SyntheticHParams(FindSyntheticShape("granite-4.0-h-350m").value()).ssm);
  }
  {
    auto f = GgufFile::Open(Make("granite-4.0-h-350m", TensorType::kQ8_0, "g4.gguf", 4, true));
    ASSERT_TRUE(f.ok());
    auto h = ModelHParams::FromGguf(**f);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(h->recurrent_layers, (std::vector<bool>{true, true, false, true}));  // layer 4/2 made attention
  }
  {
    auto f = GgufFile::Open(Make("mamba2-130m", TensorType::kQ8_0, "m130.gguf", 0, true));
    ASSERT_TRUE(f.ok());
    auto h = ModelHParams::FromGguf(**f);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(h->ssm.n_head, 24u);
    EXPECT_EQ(h->recurrent_layers.size(), 24u);
  }
  EXPECT_EQ(DefaultShapeForArch("mamba2").value(), "mamba2-130m");
  EXPECT_EQ(DefaultShapeForArch("granitehybrid").value(), "granite-4.0-h-350m");
}

// Rewrites a metadata-only file with one key replaced (`edit` sets it on the writer).
Result<ModelHParams> WithKey(const std::string& shape, const std::string& key,
                             const std::function<void(GgufWriter&)>& edit) {
  auto f = GgufFile::Open(Make(shape, TensorType::kQ8_0, "src.gguf", 0, true));
  if (!f.ok()) return f.status();
  GgufWriter w;
  for (const auto& [k, v] : (*f)->metadata())
    if (k != key) w.SetValue(k, v);
  edit(w);
  const std::string path = testing::TempDir() + "/edited.gguf";
  SKV_RETURN_IF_ERROR(w.Write(path, [](size_t, const GgufWriterTensor&, GgufTensorSink&) { return Status::OK(); }));
  auto g = GgufFile::Open(path);
  if (!g.ok()) return g.status();
  return ModelHParams::FromGguf(**g);
}

TEST(SsmHParamsTest, BadMetadataIsAClearError) {
  auto groups = WithKey("tiny-mamba2", "mamba2.ssm.group_count", [](GgufWriter& w) { w.SetU32("mamba2.ssm.group_count", 3); });
  EXPECT_EQ(groups.status().code(), StatusCode::kInvalidArgument) << groups.status().ToString();
  auto missing = WithKey("tiny-mamba2", "mamba2.ssm.state_size", [](GgufWriter&) {});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  auto kv = WithKey("tiny-granitehybrid", "granitehybrid.attention.head_count_kv", [](GgufWriter& w) {
    const int32_t v[4] = {0, 2, 4, 0};
    w.SetI32Array("granitehybrid.attention.head_count_kv", v);
  });
  EXPECT_EQ(kv.status().code(), StatusCode::kUnimplemented) << kv.status().ToString();
  auto short_kv = WithKey("tiny-granitehybrid", "granitehybrid.attention.head_count_kv", [](GgufWriter& w) {
    const int32_t v[3] = {0, 2, 0};
    w.SetI32Array("granitehybrid.attention.head_count_kv", v);
  });
  EXPECT_EQ(short_kv.status().code(), StatusCode::kInvalidArgument) << short_kv.status().ToString();
  auto inner = WithKey("tiny-granitehybrid", "granitehybrid.ssm.inner_size", [](GgufWriter& w) {
    w.SetU32("granitehybrid.ssm.inner_size", 250);  // not a multiple of 8 heads
  });
  EXPECT_EQ(inner.status().code(), StatusCode::kInvalidArgument) << inner.status().ToString();
}

}  // namespace
}  // namespace swarmkv
