#include "engine/recurrent_layers.h"

#include "engine/model_binding.h"
#include "engine/mamba2_recurrent_layer.h"
#include "engine/short_conv_layer.h"

namespace swarmkv {
namespace {

Result<std::shared_ptr<RecurrentLayer>> MakeShortConv(const Model& model, int layer) {
  const ModelHParams& h = model.hparams();
  const LayerWeights& l = model.weights().layers[layer];
  const std::string name = "blk." + std::to_string(layer) + ".shortconv.conv.weight";
  if (l.shortconv_conv.type() != TensorType::kF32)
    return UnimplementedError("tensor '" + name + "' has type " + TensorTypeName(l.shortconv_conv.type_id) +
                              "; the short convolution needs f32 taps (as llama.cpp's ssm_conv)");
  ShortConvWeights w;
  w.in_proj = MatrixView(l.shortconv_in_proj);
  w.out_proj = MatrixView(l.shortconv_out_proj);
  w.conv = reinterpret_cast<const float*>(l.shortconv_conv.data);
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<ShortConvLayer> s,
                       ShortConvLayer::Create(w, h.n_embd, static_cast<int32_t>(h.shortconv_l_cache)));
  return std::shared_ptr<RecurrentLayer>(std::move(s));
}

// Mamba-2 (mamba2, granitehybrid): the mixer over the layer's blk.N.ssm_* tensors.
Result<std::shared_ptr<RecurrentLayer>> MakeMamba2(const Model& model, int layer) {
  const Mamba2Config c = Mamba2Config::FromHParams(model.hparams());
  SKV_ASSIGN_OR_RETURN(Mamba2LayerWeights w, Mamba2WeightsFromLayer(model.weights().layers[layer].ssm, c,
                                                                     "blk." + std::to_string(layer) + "."));
  return std::shared_ptr<RecurrentLayer>(std::make_shared<Mamba2RecurrentLayer>(c, w));
}

}  // namespace

Result<std::shared_ptr<RecurrentLayer>> MakeRecurrentLayer(const Model& model, int layer) {
  const ModelHParams& h = model.hparams();
  if (layer < 0 || layer >= static_cast<int>(h.n_layer) || !h.is_recurrent(static_cast<uint32_t>(layer)))
    return InvalidArgumentError("layer " + std::to_string(layer) + " is not a recurrent layer");
  switch (h.arch) {
    case ModelArch::kLfm2: return MakeShortConv(model, layer);
    case ModelArch::kMamba2:
    case ModelArch::kGraniteHybrid: return MakeMamba2(model, layer);
    default: break;
  }
  return UnimplementedError("no recurrent layer for architecture " + std::string(ModelArchName(h.arch)));
}

}  // namespace swarmkv
