#include "engine/cold_kv.h"

#include <algorithm>

#include "base/logging.h"
#include "base/sysinfo.h"
#include "memory/block_id.h"

namespace swarmkv {

Result<std::unique_ptr<ColdKv>> ColdKv::Create(KvMemory* memory, const KvLayout& layout, ColdKvOptions options) {
  if (memory == nullptr) return InvalidArgumentError("cold KV: no memory");
  if (options.hot_window_tokens < 0) return InvalidArgumentError("cold KV: the hot window must be >= 0 tokens");
  if (options.dir.empty()) return InvalidArgumentError("cold KV: no directory for cold blocks");
  if (options.max_tokens_per_sequence <= 0) return InvalidArgumentError("cold KV: no context length");
  const int64_t B = layout.block_tokens();
  options.hot_window_tokens = (options.hot_window_tokens + B - 1) / B * B;
  if (const int64_t stale = RemoveStaleColdFiles(options.dir); stale > 0)
    SKV_LOG(INFO) << "removed " << stale << " cold KV files of processes that no longer run from " << options.dir;
  return std::unique_ptr<ColdKv>(new ColdKv(memory, layout, std::move(options)));
}

ColdKv::ColdKv(KvMemory* memory, const KvLayout& layout, ColdKvOptions options)
    : memory_(memory),
      layout_(layout),
      options_(std::move(options)),
      stream_(layout.shape().num_layers, static_cast<int64_t>(layout.layer_bytes())) {}

Status ColdKv::BeginStep(const StepBatch& batch) {
  std::vector<ColdSpan> spans;
  for (size_t i = 0; i < batch.spans.size(); ++i) {
    const StepSpan& span = batch.spans[i];
    auto it = slots_.find(span.slot);
    if (it == slots_.end() || it->second.cold == 0) continue;
    const auto seq = static_cast<SequenceId>(span.slot);
    SKV_RETURN_IF_ERROR(memory_->Reserve(seq, span.num_tokens));  // idempotent: the table covers the step
    SKV_ASSIGN_OR_RETURN(BlockTable table, memory_->GetBlockTable(seq));
    spans.push_back(ColdSpan{i, it->second.file.get(), std::move(table.blocks)});
  }
  stream_.BeginStep(std::move(spans));
  return Status::OK();
}

void ColdKv::SpillBeyondWindow(const StepBatch& batch) {
  if (options_.hot_window_tokens == 0) return;  // swap only
  const int64_t B = layout_.block_tokens();
  const int64_t max_blocks = (options_.max_tokens_per_sequence + B - 1) / B + 1;
  for (const StepSpan& span : batch.spans) {
    const auto seq = static_cast<SequenceId>(span.slot);
    Result<int64_t> len = memory_->Length(seq);
    if (!len.ok()) continue;
    const int64_t limit = std::min((*len - options_.hot_window_tokens) / B, max_blocks);  // blocks [0, limit) may go cold
    if (limit <= 0) continue;
    Slot& slot = slots_[span.slot];
    if (!slot.spill_error.ok()) continue;  // the disk refused before: keep the rest hot
    Result<int64_t> made = MakeCold(span.slot, slot, limit);
    if (!made.ok()) {
      slot.spill_error = made.status();
      SKV_LOG(WARN) << "KV beyond the hot window of sequence " << span.slot << " stays in RAM: "
                    << made.status().ToString();
    }
  }
}

Result<int64_t> ColdKv::SwapOut(SlotId slot_id) {
  const int64_t B = layout_.block_tokens();
  const int64_t max_blocks = (options_.max_tokens_per_sequence + B - 1) / B + 1;
  SKV_ASSIGN_OR_RETURN(int64_t len, memory_->Length(static_cast<SequenceId>(slot_id)));
  if (len / B > max_blocks) return OutOfRangeError("cold KV: sequence longer than its cold file");
  Slot& slot = slots_[slot_id];
  SKV_ASSIGN_OR_RETURN(int64_t made, MakeCold(slot_id, slot, len / B));
  std::lock_guard<std::mutex> lock(stats_mu_);
  ++swap_outs_;
  blocks_swapped_ += made;
  return made;
}

Result<int64_t> ColdKv::MakeCold(SlotId slot_id, Slot& slot, int64_t limit) {
  const auto seq = static_cast<SequenceId>(slot_id);
  const int64_t B = layout_.block_tokens();
  const int64_t max_blocks = (options_.max_tokens_per_sequence + B - 1) / B + 1;
  SKV_ASSIGN_OR_RETURN(BlockTable table, memory_->GetBlockTable(seq));
  std::vector<int32_t> tokens;
  if (options_.export_block) {
    // Identities of the blocks that may go cold (only for export: cold files are addressed by
    // index), extending the chain computed by earlier calls.
    SKV_ASSIGN_OR_RETURN(tokens, memory_->Tokens(seq));
    for (int64_t b = static_cast<int64_t>(slot.chain.size()); b < limit; ++b) {
      const BlockId parent = b > 0 ? slot.chain[static_cast<size_t>(b - 1)] : BlockId{};
      slot.chain.push_back(ComputeBlockId(options_.namespace_id, parent,
                                          std::span<const int32_t>(tokens).subspan(static_cast<size_t>(b * B), static_cast<size_t>(B))));
    }
  }
  int64_t made = 0, exported = 0;
  Status error;
  for (int64_t b = 0; b < limit; ++b) {
    if (table.blocks[static_cast<size_t>(b)] == nullptr) continue;  // cold already
    Result<bool> cold = memory_->MakeBlockCold(seq, b, [&](std::span<const uint8_t> bytes) -> Status {
      if (slot.file == nullptr) {
        ColdKvFileOptions fo;
        fo.dir = options_.dir;
        fo.num_layers = layout_.shape().num_layers;
        fo.slice_bytes = static_cast<int64_t>(layout_.layer_bytes());
        fo.max_blocks = max_blocks;
        fo.faults = options_.faults;
        SKV_ASSIGN_OR_RETURN(slot.file, ColdKvFile::Create(fo));
      }
      const int64_t start = MonotonicNanos();
      SKV_RETURN_IF_ERROR(slot.file->WriteBlock(b, bytes));
      RecordWrite(bytes.size(), MonotonicNanos() - start);
      if (options_.export_block && b < static_cast<int64_t>(slot.chain.size())) {
        SealedBlockView v;
        v.namespace_id = options_.namespace_id;
        v.id = slot.chain[static_cast<size_t>(b)];
        if (b > 0) v.parent = slot.chain[static_cast<size_t>(b - 1)];
        v.tokens = std::span<const int32_t>(tokens).subspan(static_cast<size_t>(b * B), static_cast<size_t>(B));
        v.kv_bytes = bytes;
        v.layout = &layout_;
        v.reason = EvictionReason::kExplicit;
        options_.export_block(v);
        ++exported;
      }
      return Status::OK();
    });
    if (!cold.ok()) {
      error = cold.status();
      break;
    }
    if (*cold) ++made;
  }
  slot.cold += made;
  std::lock_guard<std::mutex> lock(stats_mu_);
  blocks_cold_ += made;
  blocks_written_ += made;
  blocks_exported_ += exported;
  if (!error.ok()) {
    ++write_errors_;
    return error;
  }
  return made;
}

void ColdKv::RecordWrite(uint64_t bytes, int64_t nanos) {
  if (nanos <= 0) return;
  const double bps = static_cast<double>(bytes) / (static_cast<double>(nanos) * 1e-9);
  std::lock_guard<std::mutex> lock(stats_mu_);
  write_bytes_per_second_ = write_bytes_per_second_ <= 0 ? bps : write_bytes_per_second_ + 0.1 * (bps - write_bytes_per_second_);
}

Status ColdKv::ExplainReserveFailure(SlotId slot, Status st) const {
  if (st.code() != StatusCode::kResourceExhausted) return st;
  auto it = slots_.find(slot);
  if (it == slots_.end() || it->second.spill_error.ok()) return st;
  return UnavailableError("the sequence's KV beyond the hot window (--kv-hot-window " +
                          std::to_string(options_.hot_window_tokens) +
                          " tokens) could not be moved to disk, and it no longer fits in --kv-memory: " +
                          it->second.spill_error.message());
}

void ColdKv::Forget(SlotId slot) {
  auto it = slots_.find(slot);
  if (it == slots_.end()) return;
  std::lock_guard<std::mutex> lock(stats_mu_);
  blocks_cold_ -= it->second.cold;
  slots_.erase(it);
}

void ColdKv::DropPageCache() const {
  for (const auto& [slot, s] : slots_) {
    if (s.file != nullptr) s.file->DropPageCache();
  }
}

ColdKvStats ColdKv::stats() const {
  ColdKvStats s;
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    s.blocks_cold = blocks_cold_;
    s.blocks_written = blocks_written_;
    s.write_errors = write_errors_;
    s.swap_outs = swap_outs_;
    s.blocks_swapped = blocks_swapped_;
    s.blocks_exported = blocks_exported_;
    s.write_bytes_per_second = write_bytes_per_second_;
  }
  s.stream = stream_.stats();
  if (s.stream.read_nanos > 0)
    s.read_bytes_per_second = static_cast<double>(s.stream.bytes_read) / (static_cast<double>(s.stream.read_nanos) * 1e-9);
  s.stream_buffer_bytes = stream_.buffer_bytes();
  return s;
}

}  // namespace swarmkv
