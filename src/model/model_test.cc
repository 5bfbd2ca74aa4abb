#include "model/model.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "base/testing.h"
#include "gguf/gguf_writer.h"
#include "model/synthetic_model.h"

namespace swarmkv {
namespace {

ModelLoadOptions NoCache() {
  ModelLoadOptions o;
  o.fingerprint.cache_path = "";
  return o;
}

// Values from /work/shared/models/README.md.
TEST(ModelTest, SharedModelsHaveDocumentedHParams) {
  struct Case {
    const char* file;
    uint32_t embd, layers, heads, kv_heads, ff, vocab, ctx;
    float eps;
    bool tied;
  };
  const Case cases[] = {
      {"models/stories260K.gguf", 64, 5, 8, 4, 172, 512, 2048, 1e-5f, false},
      {"models/TinyStories-656K.f16.gguf", 128, 2, 8, 4, 384, 2048, 512, 1e-6f, true},
      {"models/tinystories-656k-q8_0.gguf", 128, 2, 8, 4, 384, 2048, 512, 1e-6f, true},
  };
  for (const Case& c : cases) {
    std::string path = SKV_REQUIRE_SHARED(c.file);
    auto m = Model::Load(path, NoCache());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    const ModelHParams& h = (*m)->hparams();
    SCOPED_TRACE(c.file);
    EXPECT_EQ(h.arch, ModelArch::kLlama);
    EXPECT_EQ(h.n_embd, c.embd);
    EXPECT_EQ(h.n_layer, c.layers);
    EXPECT_EQ(h.n_head, c.heads);
    EXPECT_EQ(h.n_head_kv, c.kv_heads);
    EXPECT_EQ(h.n_ff, c.ff);
    EXPECT_EQ(h.n_vocab, c.vocab);
    EXPECT_EQ(h.n_ctx_train, c.ctx);
    EXPECT_FLOAT_EQ(h.rms_norm_eps, c.eps);
    EXPECT_EQ(h.head_dim_k, c.embd / c.heads);
    EXPECT_EQ(h.rope_scaling.type, RopeScalingType::kNone);
    EXPECT_FALSE(h.rope_neox);
    EXPECT_FALSE(h.has_qkv_bias);
    EXPECT_FALSE(h.has_qk_norm);
    const ModelWeights& w = (*m)->weights();
    ASSERT_EQ(w.layers.size(), c.layers);
    EXPECT_EQ(w.token_embd.ne0, c.embd);
    EXPECT_EQ(w.token_embd.ne1, c.vocab);
    EXPECT_EQ(w.layers[0].wk.ne1, int64_t{c.kv_heads} * (c.embd / c.heads));
    EXPECT_EQ(w.layers.back().ffn_down.ne0, c.ff);
    EXPECT_FALSE((*m)->fingerprint().IsZero());
    // The tied flag follows the presence of output.weight in the file.
    EXPECT_EQ(h.tied_output, (*m)->gguf().FindTensor("output.weight") == nullptr);
    if (h.tied_output) {
      EXPECT_EQ(w.output.data, w.token_embd.data);
    }
  }
}

TEST(ModelTest, RopeBaseOfTinyStories) {
  std::string path = SKV_REQUIRE_SHARED("models/TinyStories-656K.f16.gguf");
  auto m = Model::Load(path, NoCache());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_FLOAT_EQ((*m)->hparams().rope_freq_base, 10000.0f);
}

// Writes a tiny model's file with `edit` applied to the metadata writer and the tensor list.
class EditedModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir();
    SyntheticModelOptions o;
    o.shape = "tiny";
    o.type = TensorType::kF32;
    ASSERT_TRUE(MakeSyntheticModel(o, dir_ + "/tiny.gguf").ok());
    auto f = GgufFile::Open(dir_ + "/tiny.gguf");
    ASSERT_TRUE(f.ok());
    src_ = std::move(*f);
  }

  // Copies tiny.gguf, replacing metadata key `key` by `set` (if given) and dropping or
  // reshaping tensors; returns the load status.
  Status LoadEdited(const std::function<void(GgufWriter&)>& extra_meta, const std::string& skip_key,
                    const std::string& drop_tensor = "", const std::string& reshape_tensor = "",
                    uint32_t retype_to = 0xFFFFFFFF) {
    GgufWriter w;
    for (const auto& [k, v] : src_->metadata())
      if (k != skip_key) w.SetValue(k, v);
    extra_meta(w);
    std::vector<const GgufTensorInfo*> kept;
    for (const auto& t : src_->tensors()) {
      if (t.name == drop_tensor) continue;
      std::vector<uint64_t> shape = t.shape;
      uint32_t type = t.type_id;
      if (t.name == reshape_tensor) std::swap(shape[0], shape[1]);
      if (t.name == reshape_tensor && retype_to != 0xFFFFFFFF) {
        shape = t.shape;
        type = retype_to;
      }
      SKV_RETURN_IF_ERROR(w.AddTensor(t.name, type, shape));
      kept.push_back(&t);
    }
    std::string out = dir_ + "/edited.gguf";
    SKV_RETURN_IF_ERROR(w.Write(out, [&](size_t i, const GgufWriterTensor& t, GgufTensorSink& sink) {
      std::vector<uint8_t> bytes(t.size_bytes);
      std::memcpy(bytes.data(), kept[i]->data, std::min<uint64_t>(t.size_bytes, kept[i]->size_bytes));
      return sink.Append(bytes);
    }));
    auto m = Model::Load(out, NoCache());
    return m.ok() ? Status::OK() : m.status();
  }

  std::string dir_;
  std::unique_ptr<GgufFile> src_;
};

TEST_F(EditedModel, UnchangedCopyLoads) {
  EXPECT_TRUE(LoadEdited([](GgufWriter&) {}, "").ok());
}

TEST_F(EditedModel, UnknownArchitectureListsSupported) {
  Status s = LoadEdited([](GgufWriter& w) { w.SetString("general.architecture", "mamba"); }, "general.architecture");
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("'mamba'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("llama, qwen2, qwen3"), std::string::npos) << s.ToString();
}

TEST_F(EditedModel, MissingRequiredKeyIsNamed) {
  Status s = LoadEdited([](GgufWriter&) {}, "llama.block_count");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("llama.block_count"), std::string::npos) << s.ToString();
}

TEST_F(EditedModel, WrongKeyTypeIsNamed) {
  Status s = LoadEdited([](GgufWriter& w) { w.SetString("llama.embedding_length", "128"); }, "llama.embedding_length");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("llama.embedding_length"), std::string::npos) << s.ToString();
}

TEST_F(EditedModel, BadHeadRatio) {
  Status s = LoadEdited([](GgufWriter& w) { w.SetU32("llama.attention.head_count_kv", 3); },
                        "llama.attention.head_count_kv");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("head_count_kv"), std::string::npos) << s.ToString();
}

TEST_F(EditedModel, MissingTensorIsNamed) {
  Status s = LoadEdited([](GgufWriter&) {}, "", "blk.2.ffn_up.weight");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("blk.2.ffn_up.weight"), std::string::npos) << s.ToString();
}

TEST_F(EditedModel, WrongShapeNamesTensorExpectedAndActual) {
  Status s = LoadEdited([](GgufWriter&) {}, "", "", "blk.1.attn_k.weight");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'blk.1.attn_k.weight' has shape [64, 128], expected [128, 64]"), std::string::npos)
      << s.ToString();
}

TEST_F(EditedModel, UncomputableTypeFailsWhenBound) {
  // q8_K is a known GGUF type (it loads as metadata) that weights cannot be computed with.
  Status s = LoadEdited([](GgufWriter&) {}, "", "", "token_embd.weight", static_cast<uint32_t>(TensorType::kI32));
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("token_embd.weight"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("i32"), std::string::npos) << s.ToString();
}

TEST_F(EditedModel, RopeScalingKeys) {
  auto meta = [](GgufWriter& w) {
    w.SetString("llama.rope.scaling.type", "yarn");
    w.SetF32("llama.rope.scaling.factor", 4.0f);
    w.SetU32("llama.rope.scaling.original_context_length", 1024);
    w.SetF32("llama.rope.scaling.attn_factor", 0.5f);
    w.SetF32("llama.rope.scaling.yarn_log_multiplier", 0.1f);
  };
  ASSERT_TRUE(LoadEdited(meta, "").ok());
  auto m = Model::Load(dir_ + "/edited.gguf", NoCache());
  ASSERT_TRUE(m.ok());
  const RopeScaling& rs = (*m)->hparams().rope_scaling;
  EXPECT_EQ(rs.type, RopeScalingType::kYarn);
  EXPECT_EQ(rs.factor, 4.0f);
  EXPECT_EQ(rs.original_context_length, 1024u);
  EXPECT_EQ(rs.attn_factor, 0.5f);
  EXPECT_FLOAT_EQ(rs.yarn_log_multiplier, 0.1f);
  Status bad = LoadEdited([](GgufWriter& w) { w.SetString("llama.rope.scaling.type", "wobbly"); }, "");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("wobbly"), std::string::npos);
}

TEST(ModelTest, MissingFileIsError) {
  auto m = Model::Load(testing::TempDir() + "/nope.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("nope.gguf"), std::string::npos);
}

}  // namespace
}  // namespace swarmkv
