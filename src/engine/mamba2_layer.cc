#include "engine/mamba2_layer.h"

#include "engine/model_binding.h"
#include "kernels/ssm.h"

namespace swarmkv {
namespace {

std::string Num(int64_t v) { return std::to_string(v); }

Result<const float*> Vector(const TensorRef& t, int64_t n, const std::string& name, bool optional = false) {
  if (!t.present()) {
    if (optional) return static_cast<const float*>(nullptr);
    return InvalidArgumentError("mamba2: tensor '" + name + "' is missing");
  }
  if (t.type() != TensorType::kF32) return UnimplementedError("mamba2: tensor '" + name + "' must be F32");
  if (t.ne0 * t.ne1 != n)
    return InvalidArgumentError("mamba2: tensor '" + name + "' has " + Num(t.ne0 * t.ne1) + " elements, expected " + Num(n));
  return reinterpret_cast<const float*>(t.data);
}

}  // namespace

Status Mamba2Config::Validate() const {
  if (n_embd <= 0 || d_conv <= 0 || d_conv > 64 || d_inner <= 0 || d_state <= 0 || n_head <= 0 || n_group <= 0 ||
      d_inner % n_head != 0 || n_head % n_group != 0 || d_inner % n_group != 0 || !(rms_eps > 0.0f))
    return InvalidArgumentError("mamba2: bad layer shape (embd " + Num(n_embd) + ", conv " + Num(d_conv) + ", inner " +
                                Num(d_inner) + ", state " + Num(d_state) + ", heads " + Num(n_head) + ", groups " +
                                Num(n_group) + ")");
  return Status::OK();
}

Mamba2Config Mamba2Config::FromHParams(const ModelHParams& h) {
  Mamba2Config c;
  c.n_embd = h.n_embd;
  c.d_conv = h.ssm.d_conv;
  c.d_inner = h.ssm.d_inner;
  c.d_state = h.ssm.d_state;
  c.n_head = h.ssm.n_head;
  c.n_group = h.ssm.n_group;
  c.rms_eps = h.rms_norm_eps;
  return c;
}

Result<Mamba2LayerWeights> Mamba2WeightsFromLayer(const SsmLayerWeights& s, const Mamba2Config& c,
                                                  const std::string& p) {
  SKV_RETURN_IF_ERROR(c.Validate());
  Mamba2LayerWeights w;
  w.in = MatrixView(s.in);
  w.out = MatrixView(s.out);
  if (w.in.data == nullptr || w.in.rows != c.in_proj_rows() || w.in.cols != c.n_embd)
    return InvalidArgumentError("mamba2: '" + p + "ssm_in' missing or not [" + Num(c.in_proj_rows()) + " x " + Num(c.n_embd) + "]");
  if (w.out.data == nullptr || w.out.rows != c.n_embd || w.out.cols != c.d_inner)
    return InvalidArgumentError("mamba2: '" + p + "ssm_out' missing or not [" + Num(c.n_embd) + " x " + Num(c.d_inner) + "]");
  SKV_ASSIGN_OR_RETURN(w.conv1d, Vector(s.conv1d, c.conv_channels() * c.d_conv, p + "ssm_conv1d.weight"));
  SKV_ASSIGN_OR_RETURN(w.conv1d_b, Vector(s.conv1d_b, c.conv_channels(), p + "ssm_conv1d.bias", true));
  SKV_ASSIGN_OR_RETURN(w.dt_b, Vector(s.dt_b, c.n_head, p + "ssm_dt.bias"));
  SKV_ASSIGN_OR_RETURN(w.a, Vector(s.a, c.n_head, p + "ssm_a"));
  SKV_ASSIGN_OR_RETURN(w.d, Vector(s.d, c.n_head, p + "ssm_d"));
  SKV_ASSIGN_OR_RETURN(w.norm, Vector(s.norm, c.d_inner, p + "ssm_norm.weight"));
  return w;
}

Status Mamba2Layer::Run(const Mamba2LayerWeights& w, const float* xn, int64_t xn_stride, int64_t T, Mamba2State state,
                        float* out, int64_t out_stride) {
  if (T < 0) return InvalidArgumentError("mamba2: negative token count");
  if (T == 0) return Status::OK();
  SKV_RETURN_IF_ERROR(Project(w, xn, xn_stride, T));
  SKV_RETURN_IF_ERROR(Mix(w, 0, T, state));
  return Output(w, out, out_stride);
}

Status Mamba2Layer::Project(const Mamba2LayerWeights& w, const float* xn, int64_t xn_stride, int64_t T) {
  if (T < 0) return InvalidArgumentError("mamba2: negative token count");
  const int64_t P = config_.in_proj_rows();
  rows_ = T;
  zxbcdt_.resize(static_cast<size_t>(T * P));
  xbc_.resize(static_cast<size_t>(T * config_.conv_channels()));
  y_.resize(static_cast<size_t>(T * config_.d_inner));
  if (T == 0) return Status::OK();
  return Matmul(w.in, xn, T, xn_stride, zxbcdt_.data(), P, MatmulOptions{isa_, pool_});
}

Status Mamba2Layer::Mix(const Mamba2LayerWeights& w, int64_t first_row, int64_t T, Mamba2State state) {
  const Mamba2Config& c = config_;
  if (T <= 0 || first_row < 0 || first_row + T > rows_)
    return InvalidArgumentError("mamba2: rows [" + Num(first_row) + ", +" + Num(T) + ") outside the " + Num(rows_) +
                                " projected rows");
  if (state.conv == nullptr || state.ssm == nullptr) return InvalidArgumentError("mamba2: no recurrent state");
  const int64_t P = c.in_proj_rows(), ch = c.conv_channels(), di = c.d_inner;
  const float* zx = zxbcdt_.data() + first_row * P;
  float* xbc = xbc_.data() + first_row * ch;
  float* y = y_.data() + first_row * di;

  // Causal conv over x|B|C with the conv state, bias, SiLU (ggml_silu over each row).
  SsmConvArgs ca;
  ca.channels = ch;
  ca.kernel = static_cast<int>(c.d_conv);
  ca.weight = w.conv1d;
  ca.bias = w.conv1d_b;
  ca.isa = isa_;
  SKV_RETURN_IF_ERROR(SsmConv1d(ca, zx + di, P, T, state.conv, xbc, ch));
  for (int64_t t = 0; t < T; ++t) Silu(xbc + t * ch, xbc + t * ch, ch, isa_);

  // The scan: x = xBC[0, d_inner), B and C after it, dt the last n_head columns of zxBCdt.
  SsmScanArgs sa;
  sa.n_head = c.n_head;
  sa.head_dim = c.head_dim();
  sa.d_state = c.d_state;
  sa.n_group = c.n_group;
  sa.A = w.a;
  sa.D = w.d;
  sa.dt_bias = w.dt_b;
  sa.isa = isa_;
  sa.pool = pool_;
  SKV_RETURN_IF_ERROR(SsmScan(sa, xbc, ch, zx + di + ch, P, xbc + di, xbc + di + c.n_group * c.d_state, ch, T,
                              state.ssm, y, di));

  // Gate with SiLU(z), grouped RMSNorm.
  for (int64_t t = 0; t < T; ++t)
    GatedGroupRmsNorm(zx + t * P, y + t * di, w.norm, c.head_dim(), di, c.n_group, c.rms_eps);
  return Status::OK();
}

Status Mamba2Layer::Output(const Mamba2LayerWeights& w, float* out, int64_t out_stride) {
  if (rows_ == 0) return Status::OK();
  return Matmul(w.out, y_.data(), rows_, config_.d_inner, out, out_stride, MatmulOptions{isa_, pool_});
}

}  // namespace swarmkv
