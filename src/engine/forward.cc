#include "engine/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/logging.h"
#include "engine/attention_kv_sources.h"
#include "kernels/ops_arch.h"
#include "kernels/vec_dot.h"

namespace swarmkv {
namespace {

std::string Num(int64_t v) { return std::to_string(v); }

Status CheckMatrix(const WeightMatrix& w, int64_t rows, int64_t cols, const std::string& name) {
  if (w.data == nullptr) return InvalidArgumentError("forward: weight '" + name + "' is missing");
  if (w.rows != rows || w.cols != cols)
    return InvalidArgumentError("forward: weight '" + name + "' is [" + Num(w.rows) + " x " + Num(w.cols) +
                                "], expected [" + Num(rows) + " x " + Num(cols) + "]");
  return Status::OK();
}

// Runs fn(t) for every token row; rows are independent (per-row pure functions), so spreading
// them over the pool cannot change a bit. Decode-sized batches stay on the calling thread.
template <typename Fn>
void ForTokens(ThreadPool* pool, int64_t T, Fn&& fn) {
  if (pool != nullptr && T >= 8) {
    pool->ParallelFor(T, [&](int64_t t, int) { fn(t); });
  } else {
    for (int64_t t = 0; t < T; ++t) fn(t);
  }
}

// A pure recurrent model (mamba2): no attention, so no heads, RoPE or sliding window; the FFN
// width may be 0 (a layer without FFN weights skips it).
Status ValidateAttentionFree(const ForwardConfig& c) {
  if (c.n_embd <= 0 || c.n_vocab <= 0 || c.n_ff < 0)
    return InvalidArgumentError("forward: n_embd and n_vocab must be > 0 and n_ff >= 0");
  if (c.n_head != 0 || c.n_head_kv != 0 || c.head_dim_k != 0 || c.head_dim_v != 0)
    return InvalidArgumentError("forward: a model without attention layers has no attention heads (n_head " +
                                Num(c.n_head) + ", n_head_kv " + Num(c.n_head_kv) + ")");
  if (!(c.rms_eps > 0.0f)) return InvalidArgumentError("forward: rms_eps must be > 0");
  if (c.sliding_window != 0 || !c.swa_layers.empty() || c.moe.n_expert != 0)
    return InvalidArgumentError("forward: a model without attention layers has no sliding window or experts");
  return Status::OK();
}

}  // namespace

Status ForwardConfig::Validate() const {
  if (!recurrent_layers.empty() && static_cast<int32_t>(recurrent_layers.size()) != n_layer)
    return InvalidArgumentError("forward: " + Num(recurrent_layers.size()) + " recurrent layer flags for " +
                                Num(n_layer) + " layers");
  if (n_layer > 0 && n_attention_layers() == 0) return ValidateAttentionFree(*this);
  if (n_embd <= 0 || n_layer <= 0 || n_head <= 0 || n_head_kv <= 0 || head_dim_k <= 0 || head_dim_v <= 0 ||
      n_ff <= 0 || n_vocab <= 0)
    return InvalidArgumentError("forward: every model dimension must be > 0");
  if (n_head % n_head_kv != 0)
    return InvalidArgumentError("forward: n_head " + Num(n_head) + " is not a multiple of n_head_kv " + Num(n_head_kv));
  if (rope.n_dims <= 0 || rope.n_dims > head_dim_k || rope.n_dims % 2 != 0)
    return InvalidArgumentError("forward: rope dims " + Num(rope.n_dims) + " must be even and <= head_dim " +
                                Num(head_dim_k));
  if (!(rms_eps > 0.0f)) return InvalidArgumentError("forward: rms_eps must be > 0");
  if (!swa_layers.empty() && static_cast<int32_t>(swa_layers.size()) != n_layer)
    return InvalidArgumentError("forward: " + Num(swa_layers.size()) + " SWA layer flags for " + Num(n_layer) + " layers");
  if (sliding_window < 0) return InvalidArgumentError("forward: sliding window must be >= 0");
  if (!swa_layers.empty() && (rope_swa.n_dims != rope.n_dims || rope_swa.neox != rope.neox))
    return InvalidArgumentError("forward: SWA layers' RoPE must rotate the same dims as the others");
  return Status::OK();
}

int32_t ForwardConfig::n_attention_layers() const {
  int32_t n = 0;
  for (int l = 0; l < n_layer; ++l) n += is_recurrent(l) ? 0 : 1;
  return n;
}

Result<std::unique_ptr<ForwardPass>> ForwardPass::Create(ForwardConfig config, ForwardWeights weights,
                                                         KvMemory* memory, const Hash128& namespace_id,
                                                         ForwardOptions options) {
  SKV_RETURN_IF_ERROR(config.Validate());
  if (memory == nullptr) return InvalidArgumentError("forward: no KV memory");
  SKV_ASSIGN_OR_RETURN(KvLayout layout, memory->Layout(namespace_id));
  const KvShape& s = layout.shape();
  // (A pure recurrent model's config has 0 heads and dims, as the state-only shape.)
  if (s.num_layers != config.n_attention_layers() || s.num_kv_heads != config.n_head_kv || s.head_dim_k != config.head_dim_k ||
      s.head_dim_v != config.head_dim_v)
    return InvalidArgumentError("forward: KV namespace shape " + s.DebugString() + " does not match the model (L=" +
                                Num(config.n_attention_layers()) + " H=" + Num(config.n_head_kv) + " Dk=" + Num(config.head_dim_k) +
                                " Dv=" + Num(config.head_dim_v) + ")");
  const int64_t e = config.n_embd;
  const int64_t qd = int64_t{config.n_head} * config.head_dim_k;
  const int64_t kd = int64_t{config.n_head_kv} * config.head_dim_k;
  const int64_t vd = int64_t{config.n_head_kv} * config.head_dim_v;
  SKV_RETURN_IF_ERROR(CheckMatrix(weights.token_embd, config.n_vocab, e, "token_embd"));
  SKV_RETURN_IF_ERROR(CheckMatrix(weights.output, config.n_vocab, e, "output"));
  if (weights.output_norm == nullptr) return InvalidArgumentError("forward: weight 'output_norm' is missing");
  if (static_cast<int32_t>(weights.layers.size()) != config.n_layer)
    return InvalidArgumentError("forward: " + Num(weights.layers.size()) + " layers of weights for " +
                                Num(config.n_layer) + " layers");
  for (int l = 0; l < config.n_layer; ++l) {
    const ForwardLayerWeights& w = weights.layers[l];
    const std::string p = "blk." + Num(l) + ".";
    if (config.is_recurrent(l) != (w.recurrent != nullptr))
      return InvalidArgumentError("forward: " + p + (w.recurrent ? " has a recurrent mixer but is an attention layer"
                                                                 : " is recurrent but has no recurrent mixer"));
    // A recurrent block without FFN (mamba2): only its mixer's pre-norm.
    const bool no_ffn = w.recurrent != nullptr && w.gate.data == nullptr && w.up.data == nullptr && w.down.data == nullptr;
    if (no_ffn) {
      if (w.attn_norm == nullptr) return InvalidArgumentError("forward: " + p + " norm weights missing");
      continue;
    }
    if ((w.attn_norm == nullptr) != (w.ffn_norm == nullptr))
      return InvalidArgumentError("forward: " + p + " has only one of attn_norm/ffn_norm");
    if ((w.attn_post_norm == nullptr) != (w.ffn_post_norm == nullptr))
      return InvalidArgumentError("forward: " + p + " has only one of the post-norms");
    if (w.attn_norm == nullptr && w.attn_post_norm == nullptr)
      return InvalidArgumentError("forward: " + p + " norm weights missing");
    if (w.recurrent == nullptr) {
      if ((w.q_norm == nullptr) != (w.k_norm == nullptr))
        return InvalidArgumentError("forward: " + p + " has only one of q/k norm");
      SKV_RETURN_IF_ERROR(CheckMatrix(w.wq, qd, e, p + "attn_q"));
      SKV_RETURN_IF_ERROR(CheckMatrix(w.wk, kd, e, p + "attn_k"));
      SKV_RETURN_IF_ERROR(CheckMatrix(w.wv, vd, e, p + "attn_v"));
      SKV_RETURN_IF_ERROR(CheckMatrix(w.wo, e, int64_t{config.n_head} * config.head_dim_v, p + "attn_output"));
    }
    if (config.moe.n_expert > 0) {  // a mixture of experts instead of the dense FFN
      SKV_RETURN_IF_ERROR(MoeFfn::Validate(config.moe, w.moe, e, p));
      continue;
    }
    SKV_RETURN_IF_ERROR(CheckMatrix(w.gate, config.n_ff, e, p + "ffn_gate"));
    SKV_RETURN_IF_ERROR(CheckMatrix(w.up, config.n_ff, e, p + "ffn_up"));
    SKV_RETURN_IF_ERROR(CheckMatrix(w.down, e, config.n_ff, p + "ffn_down"));
  }
  return std::unique_ptr<ForwardPass>(new ForwardPass(std::move(config), std::move(weights), memory, layout, options));
}

ForwardPass::ForwardPass(ForwardConfig config, ForwardWeights weights, KvMemory* memory, KvLayout layout,
                         ForwardOptions options)
    : config_(std::move(config)), weights_(std::move(weights)), memory_(memory), layout_(layout), options_(options) {
  for (int32_t l = 0; l < layout_.shape().num_layers; ++l) layer_layouts_.push_back(layout_.LayerView(l));
  int32_t kv = 0;
  for (int l = 0; l < config_.n_layer; ++l) {
    kv_layer_.push_back(config_.is_recurrent(l) ? -1 : kv++);
    state_offset_.push_back(state_total_bytes_);
    if (config_.is_recurrent(l)) state_total_bytes_ += weights_.layers[l].recurrent->state_bytes();
  }
}

std::vector<uint64_t> ForwardPass::RecurrentStateBytesPerLayer() const {
  std::vector<uint64_t> bytes;
  for (int l = 0; l < config_.n_layer; ++l)
    if (config_.is_recurrent(l)) bytes.push_back(weights_.layers[l].recurrent->state_bytes());
  return bytes;
}

Status ForwardPass::SetRecurrentState(SequenceId seq, std::span<const uint8_t> state) {
  if (!hybrid()) {
    if (!state.empty()) return InvalidArgumentError("forward: a recurrent state for a model without recurrent layers");
    return Status::OK();
  }
  if (!state.empty() && state.size() != state_total_bytes_)
    return InvalidArgumentError("forward: recurrent state of " + Num(state.size()) + " bytes, the model's is " +
                                Num(state_total_bytes_));
  SKV_ASSIGN_OR_RETURN(int64_t length, memory_->Length(seq));
  LiveState& live = live_[seq];
  live.cur = 0;
  live.position = length;
  live.buf[0].assign(state_total_bytes_, 0);
  live.buf[1].assign(state_total_bytes_, 0);
  if (!state.empty()) std::memcpy(live.buf[0].data(), state.data(), state.size());
  return Status::OK();
}

void ForwardPass::ForgetSequence(SequenceId seq) { live_.erase(seq); }

Status ForwardPass::PrepareRecurrent(const StepBatch& batch) {
  span_live_.assign(batch.spans.size(), nullptr);
  span_checkpoints_.resize(batch.spans.size());
  const int64_t B = layout_.block_tokens();
  for (size_t si = 0; si < batch.spans.size(); ++si) {
    const StepSpan& span = batch.spans[si];
    auto it = live_.find(span.slot);
    if (it == live_.end()) {
      if (span.first_position != 0)
        return FailedPreconditionError("forward: sequence " + Num(span.slot) + " starts at position " +
                                       Num(span.first_position) +
                                       " without a recurrent state (SetRecurrentState with its prefix's checkpoint)");
      SKV_RETURN_IF_ERROR(SetRecurrentState(span.slot, {}));
      it = live_.find(span.slot);
    }
    if (it->second.position != span.first_position)
      return FailedPreconditionError("forward: the recurrent state of sequence " + Num(span.slot) + " is at position " +
                                     Num(it->second.position) + ", the step starts at " + Num(span.first_position));
    span_live_[si] = &it->second;
    std::vector<RecurrentSnapshot>& cps = span_checkpoints_[si];
    cps.clear();
    // Every block whose last position this span computes gets the state after that position,
    // if the namespace's checkpoint interval gives it a checkpoint (an empty area: none).
    for (int64_t p = (span.first_position / B + 1) * B - 1; p < span.first_position + span.num_tokens; p += B) {
      SKV_ASSIGN_OR_RETURN(std::span<uint8_t> area, memory_->MutableRecurrentState(span.slot, p));
      if (area.empty()) continue;
      if (area.size() != state_total_bytes_)
        return InternalError("forward: the namespace's checkpoint holds " + Num(area.size()) + " bytes, the model's state " +
                             Num(state_total_bytes_));
      cps.push_back(RecurrentSnapshot{static_cast<int32_t>(p - span.first_position), area.data()});
    }
  }
  return Status::OK();
}

Status ForwardPass::RunRecurrent(int l, const StepBatch& batch) {
  const uint64_t off = state_offset_[l];
  size_t total = 0;
  for (const auto& cps : span_checkpoints_) total += cps.size();
  layer_snapshots_.resize(total);
  layer_spans_.clear();
  size_t k = 0;
  for (size_t si = 0; si < batch.spans.size(); ++si) {
    const StepSpan& span = batch.spans[si];
    LiveState& live = *span_live_[si];
    RecurrentSpan rs;
    rs.first_row = span_rows_[si];
    rs.num_tokens = span.num_tokens;
    rs.first_position = span.first_position;
    rs.state_in = live.buf[live.cur].data() + off;
    rs.state_out = live.buf[1 - live.cur].data() + off;
    const size_t first = k;
    for (const RecurrentSnapshot& cp : span_checkpoints_[si]) layer_snapshots_[k++] = RecurrentSnapshot{cp.index, cp.dest + off};
    rs.snapshots = std::span<const RecurrentSnapshot>(layer_snapshots_).subspan(first, k - first);
    layer_spans_.push_back(rs);
  }
  const RecurrentContext ctx{options_.pool, options_.isa};
  proj_.resize(batch.num_tokens() * config_.n_embd);
  return weights_.layers[l].recurrent->Forward(ctx, xn_.data(), batch.num_tokens(), layer_spans_, proj_.data());
}

Status ForwardPass::Run(const StepBatch& batch, StepOutput* out) {
  SKV_RETURN_IF_ERROR(batch.Validate());
  const int64_t T = batch.num_tokens();
  const int64_t e = config_.n_embd;
  out->vocab_size = config_.n_vocab;
  out->logits.clear();
  if (T == 0) return Status::OK();

  // Positions, room for the new rows, and each sequence's block table (stable for this step).
  positions_.resize(T);
  std::vector<BlockTable> tables;
  tables.reserve(batch.spans.size());
  int64_t row = 0;
  for (const StepSpan& span : batch.spans) {
    SKV_ASSIGN_OR_RETURN(int64_t length, memory_->Length(span.slot));
    if (length != span.first_position)
      return InvalidArgumentError("forward: sequence " + Num(span.slot) + " has " + Num(length) +
                                  " tokens but the step starts it at position " + Num(span.first_position));
    SKV_RETURN_IF_ERROR(memory_->Reserve(span.slot, span.num_tokens));
    SKV_ASSIGN_OR_RETURN(BlockTable table, memory_->GetBlockTable(span.slot));
    tables.push_back(std::move(table));
    for (int32_t i = 0; i < span.num_tokens; ++i) positions_[row++] = span.first_position + i;
  }

  // Embeddings.
  x_.resize(T * e);
  const WeightMatrix& emb = weights_.token_embd;
  for (int64_t t = 0; t < T; ++t) {
    const int32_t tok = batch.tokens[t];
    if (tok < 0 || tok >= config_.n_vocab)
      return InvalidArgumentError("forward: token " + Num(tok) + " outside the vocabulary [0, " + Num(config_.n_vocab) + ")");
    SKV_RETURN_IF_ERROR(GetRow(emb.type, emb.data, emb.rows, emb.cols,
                               emb.row_bytes != 0 ? emb.row_bytes : RowBytes(emb.type, emb.cols), tok, &x_[t * e]));
    if (config_.embedding_scale != 0.0f) Scale(&x_[t * e], e, config_.embedding_scale);
  }

  // Attention groups for the step: spans whose tables start with the same block (a shared
  // prefix), adjacent in lexicographic order of their block pointers.
  span_rows_.clear();
  row = 0;
  for (const StepSpan& span : batch.spans) {
    span_rows_.push_back(row);
    row += span.num_tokens;
  }
  grouped_order_.clear();
  solo_spans_.clear();
  if (options_.cascade_attention && batch.spans.size() > 1) {
    std::vector<std::span<const uint8_t* const>> heads;
    for (size_t si = 0; si < tables.size(); ++si) {
      // Only the full blocks before the span's first position can be shared (sealed ones); the
      // rest of the table is the sequence's own.
      const size_t full = static_cast<size_t>(batch.spans[si].first_position / layout_.block_tokens());
      heads.emplace_back(tables[si].blocks.data(), std::min(tables[si].blocks.size(), full));
    }
    const SharedPrefixOrder order = OrderForSharedPrefix(heads);
    for (const auto& [gb, ge] : order.groups) {
      if (ge - gb >= 2) {
        for (int i = gb; i < ge; ++i) grouped_order_.push_back(order.order[i]);
      } else {
        solo_spans_.push_back(order.order[gb]);
      }
    }
  } else {
    for (size_t si = 0; si < batch.spans.size(); ++si) solo_spans_.push_back(static_cast<int>(si));
  }
  // Spans whose cold blocks stream from disk attend alone: the shared-prefix kernel reads
  // resident blocks only. The rest of a group stays grouped (any order is correct).
  if (kv_sources_ != nullptr && !grouped_order_.empty()) {
    std::vector<int> kept;
    for (int si : grouped_order_) {
      if (kv_sources_->Streams(static_cast<size_t>(si))) solo_spans_.push_back(si);
      else kept.push_back(si);
    }
    if (kept.size() == 1) solo_spans_.push_back(kept[0]);
    if (kept.size() < 2) kept.clear();
    grouped_order_ = std::move(kept);
  }
  std::sort(solo_spans_.begin(), solo_spans_.end());
  grouped_spans_ += static_cast<int64_t>(grouped_order_.size());
  if (hybrid()) SKV_RETURN_IF_ERROR(PrepareRecurrent(batch));

  for (int l = 0; l < config_.n_layer; ++l) SKV_RETURN_IF_ERROR(RunLayer(l, batch, tables));

  // Final norm and logits for the last row of each span that wants them.
  std::vector<int64_t> rows;
  row = 0;
  for (const StepSpan& span : batch.spans) {
    row += span.num_tokens;
    if (span.want_logits) rows.push_back(row - 1);
  }
  if (!rows.empty()) {
    xn_.resize(rows.size() * e);
    for (size_t i = 0; i < rows.size(); ++i) RmsNorm(&x_[rows[i] * e], weights_.output_norm, &xn_[i * e], e, config_.rms_eps);
    out->logits.resize(rows.size() * static_cast<size_t>(config_.n_vocab));
    MatmulOptions mo{options_.isa, options_.pool};
    SKV_RETURN_IF_ERROR(Matmul(weights_.output, xn_.data(), static_cast<int64_t>(rows.size()), e, out->logits.data(),
                               config_.n_vocab, mo));
    const int64_t n_logits = static_cast<int64_t>(out->logits.size());
    if (config_.logit_scale != 0.0f) Scale(out->logits.data(), n_logits, 1.0f / config_.logit_scale);
    if (config_.final_softcap != 0.0f) SoftCap(out->logits.data(), n_logits, config_.final_softcap);
  }

  // The step succeeded: commit every span's tokens (seals full blocks, shareable from now on).
  int64_t offset = 0;
  for (const StepSpan& span : batch.spans) {
    SKV_RETURN_IF_ERROR(memory_->Commit(span.slot, std::span<const int32_t>(batch.tokens).subspan(offset, span.num_tokens)));
    offset += span.num_tokens;
    if (hybrid()) {  // the state the step wrote becomes the live one
      LiveState& live = *span_live_[&span - batch.spans.data()];
      live.cur = 1 - live.cur;
      live.position += span.num_tokens;
    }
  }
  return Status::OK();
}

Status ForwardPass::MatmulShared(std::initializer_list<const WeightMatrix*> ws, std::initializer_list<float*> ys,
                                 std::initializer_list<int64_t> y_cols, int64_t T) {
  // One conversion of the normed rows per vec-dot type, reused by every matrix of that type
  // (the converted row is what each matmul would compute itself, so results are unchanged).
  const MatmulOptions mo{options_.isa, options_.pool};
  auto y = ys.begin();
  auto yc = y_cols.begin();
  bool same_type = true;
  for (const WeightMatrix* w : ws) same_type = same_type && VecDotType(w->type) == VecDotType((*ws.begin())->type);
  if (same_type && ws.size() <= 8) {
    // The common case: one conversion and one parallel region for all matrices.
    SKV_RETURN_IF_ERROR(act_.Prepare(VecDotType((*ws.begin())->type), xn_.data(), T, config_.n_embd, config_.n_embd,
                                     options_.pool));
    MatmulJob jobs[8];
    size_t n = 0;
    for (const WeightMatrix* w : ws) jobs[n++] = MatmulJob{w, &act_, *y++, *yc++};
    return MatmulMany(std::span<const MatmulJob>(jobs, n), mo);
  }
  bool prepared = false;
  TensorType prepared_type = TensorType::kF32;
  for (const WeightMatrix* w : ws) {
    const TensorType vt = VecDotType(w->type);
    if (!prepared || vt != prepared_type) {
      SKV_RETURN_IF_ERROR(act_.Prepare(vt, xn_.data(), T, config_.n_embd, config_.n_embd, options_.pool));
      prepared = true;
      prepared_type = vt;
    }
    SKV_RETURN_IF_ERROR(Matmul(*w, act_, *y++, *yc++, mo));
  }
  return Status::OK();
}

Status ForwardPass::RunLayer(int l, const StepBatch& batch, const std::vector<BlockTable>& tables) {
  const ForwardLayerWeights& w = weights_.layers[l];
  const int64_t T = batch.num_tokens();
  const int64_t e = config_.n_embd;
  const int64_t hk = config_.head_dim_k, hv = config_.head_dim_v;
  const int64_t qd = config_.n_head * hk, kd = config_.n_head_kv * hk, vd = config_.n_head_kv * hv;
  const int64_t od = config_.n_head * hv;
  const MatmulOptions mo{options_.isa, options_.pool};

  // Attention block (or the recurrent mixer of a hybrid model's recurrent layer).
  xn_.resize(T * e);
  ForTokens(options_.pool, T, [&](int64_t t) { PreNorm(&x_[t * e], w.attn_norm, &xn_[t * e]); });
  if (w.recurrent != nullptr) {
    SKV_RETURN_IF_ERROR(RunRecurrent(l, batch));
    return RunFeedForward(l, T);
  }
  q_.resize(T * qd);
  k_.resize(T * kd);
  v_.resize(T * vd);
  SKV_RETURN_IF_ERROR(MatmulShared({&w.wq, &w.wk, &w.wv}, {q_.data(), k_.data(), v_.data()}, {qd, kd, vd}, T));
  ForTokens(options_.pool, T, [&](int64_t t) {
    float* q = &q_[t * qd];
    float* k = &k_[t * kd];
    float* v = &v_[t * vd];
    if (w.bq != nullptr) Add(q, w.bq, q, qd);
    if (w.bk != nullptr) Add(k, w.bk, k, kd);
    if (w.bv != nullptr) Add(v, w.bv, v, vd);
    if (w.q_norm != nullptr && config_.qk_norm_full) {
      RmsNorm(q, w.q_norm, q, qd, config_.rms_eps);
      RmsNorm(k, w.k_norm, k, kd, config_.rms_eps);
    } else if (w.q_norm != nullptr) {
      for (int h = 0; h < config_.n_head; ++h) RmsNorm(q + h * hk, w.q_norm, q + h * hk, hk, config_.rms_eps);
      for (int h = 0; h < config_.n_head_kv; ++h) RmsNorm(k + h * hk, w.k_norm, k + h * hk, hk, config_.rms_eps);
    }
    const RopeParams& rope = config_.is_swa(l) ? config_.rope_swa : config_.rope;
    if (!config_.no_rope) {
      ApplyRope(rope, positions_[t], q, hk, config_.n_head);
      ApplyRope(rope, positions_[t], k, hk, config_.n_head_kv);
    }
    if (config_.query_scale != 0.0f) Scale(q, qd, config_.query_scale);
  });

  // K/V rows of every span into its sequence's private tail blocks, then attention: sequences
  // sharing leading blocks in one shared-prefix call, the others one by one (same bits).
  const KvLayerLayout& kvl = layer_layouts_[kv_layer_[l]];
  const int64_t B = layout_.block_tokens();
  attn_.resize(T * od);
  AttentionParams ap;
  ap.n_heads = config_.n_head;
  ap.scale = config_.query_scale != 0.0f ? 1.0f : config_.attention_scale;
  ap.softcap = config_.attn_softcap;
  ap.window = config_.is_swa(l) ? config_.sliding_window : 0;
  ap.sinks = w.attn_sinks;
  ap.isa = options_.isa;
  ap.pool = options_.pool;
  for (size_t si = 0; si < batch.spans.size(); ++si) {
    const StepSpan& span = batch.spans[si];
    for (int32_t i = 0; i < span.num_tokens; ++i) {
      const int64_t t = span_rows_[si] + i;
      SKV_ASSIGN_OR_RETURN(uint8_t * block, memory_->MutableBlock(span.slot, positions_[t]));
      SKV_RETURN_IF_ERROR(WriteKvRow(kvl, block, static_cast<int>(positions_[t] % B), &k_[t * kd], &v_[t * vd]));
    }
  }
  auto view = [&](size_t si) -> Result<AttentionSequence> {
    const StepSpan& span = batch.spans[si];
    const BlockTable& table = tables[si];
    const int64_t needed_blocks = (span.first_position + span.num_tokens + B - 1) / B;
    if (static_cast<int64_t>(table.blocks.size()) < needed_blocks)
      return InternalError("forward: block table of sequence " + Num(span.slot) + " has " +
                           Num(table.blocks.size()) + " blocks, " + Num(needed_blocks) + " needed");
    const int64_t row = span_rows_[si];
    return AttentionSequence{PagedKv{table.blocks.data(), needed_blocks, kvl}, &q_[row * qd], qd, &positions_[row],
                             span.num_tokens, &attn_[row * od], od};
  };
  // Solo spans in batch order (a span streaming cold KV is always solo, and the stream hands out
  // its chunks in layer-then-batch order: AttentionKvSources).
  for (int si : solo_spans_) {
    SKV_ASSIGN_OR_RETURN(AttentionSequence s, view(si));
    if (kv_sources_ != nullptr) SKV_RETURN_IF_ERROR(kv_sources_->Prepare(si, l, &s.kv));
    SKV_RETURN_IF_ERROR(PagedAttention(ap, s.kv, s.q, s.q_stride, s.positions, s.n_queries, s.out, s.out_stride));
    if (kv_sources_ != nullptr) SKV_RETURN_IF_ERROR(kv_sources_->Finish(si, l));
  }
  // The shared-prefix kernel has no sliding window or soft-cap: such layers (gemma) run the
  // grouped spans one by one — the same bits, only without the shared reads.
  if (!grouped_order_.empty() && (ap.window != 0 || ap.softcap != 0.0f)) {
    for (int si : grouped_order_) {
      SKV_ASSIGN_OR_RETURN(AttentionSequence s, view(si));
      SKV_RETURN_IF_ERROR(PagedAttention(ap, s.kv, s.q, s.q_stride, s.positions, s.n_queries, s.out, s.out_stride));
    }
  } else if (!grouped_order_.empty()) {
    attn_seqs_.clear();
    for (int si : grouped_order_) {
      SKV_ASSIGN_OR_RETURN(AttentionSequence s, view(si));
      attn_seqs_.push_back(s);
    }
    SKV_RETURN_IF_ERROR(PagedAttentionShared(ap, attn_seqs_));
  }
  proj_.resize(T * e);
  SKV_RETURN_IF_ERROR(Matmul(w.wo, attn_.data(), T, od, proj_.data(), e, mo));
  if (w.bo != nullptr)
    ForTokens(options_.pool, T, [&](int64_t t) { Add(&proj_[t * e], w.bo, &proj_[t * e], e); });
  return RunFeedForward(l, T);
}

Status ForwardPass::RunFeedForward(int l, int64_t T) {
  const ForwardLayerWeights& w = weights_.layers[l];
  const int64_t e = config_.n_embd;
  const int64_t ff = config_.n_ff;
  const MatmulOptions mo{options_.isa, options_.pool};
  if (w.gate.data == nullptr) {  // a block without FFN (mamba2): only the mixer's residual
    ForTokens(options_.pool, T, [&](int64_t t) { AddBlockOutput(&proj_[t * e], w.attn_post_norm, &x_[t * e]); });
    return Status::OK();
  }
  // Residual, then the feed-forward block's norm, per row.
  ForTokens(options_.pool, T, [&](int64_t t) {
    AddBlockOutput(&proj_[t * e], w.attn_post_norm, &x_[t * e]);
    PreNorm(&x_[t * e], w.ffn_norm, &xn_[t * e]);
  });
  if (config_.moe.n_expert > 0) {  // mixture of experts (engine/moe_ffn.h)
    SKV_RETURN_IF_ERROR(moe_ffn_.Run(config_.moe, w.moe, xn_.data(), T, e, proj_.data(), mo));
    ForTokens(options_.pool, T, [&](int64_t t) { AddBlockOutput(&proj_[t * e], w.ffn_post_norm, &x_[t * e]); });
    return Status::OK();
  }
  gate_.resize(T * ff);
  up_.resize(T * ff);
  SKV_RETURN_IF_ERROR(MatmulShared({&w.gate, &w.up}, {gate_.data(), up_.data()}, {ff, ff}, T));
  ForTokens(options_.pool, T, [&](int64_t t) {
    if (config_.gelu_ffn) {
      GeGlu(&gate_[t * ff], &up_[t * ff], &gate_[t * ff], ff);
    } else {
      SwiGlu(&gate_[t * ff], &up_[t * ff], &gate_[t * ff], ff);
    }
  });
  SKV_RETURN_IF_ERROR(Matmul(w.down, gate_.data(), T, ff, proj_.data(), e, mo));
  ForTokens(options_.pool, T, [&](int64_t t) { AddBlockOutput(&proj_[t * e], w.ffn_post_norm, &x_[t * e]); });
  return Status::OK();
}

void ForwardPass::PreNorm(const float* x, const float* weight, float* xn) const {
  const int64_t e = config_.n_embd;
  if (weight != nullptr) {
    RmsNorm(x, weight, xn, e, config_.rms_eps);
  } else {  // olmo2: the block reads the residual stream itself
    std::copy(x, x + e, xn);
  }
}

void ForwardPass::AddBlockOutput(float* out, const float* post_norm, float* x) const {
  const int64_t e = config_.n_embd;
  if (post_norm != nullptr) RmsNorm(out, post_norm, out, e, config_.rms_eps);
  if (config_.residual_scale != 0.0f) Scale(out, e, config_.residual_scale);
  Add(x, out, x, e);
}

}  // namespace swarmkv
