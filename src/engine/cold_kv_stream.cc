#include "engine/cold_kv_stream.h"

#include <algorithm>

#include "base/sysinfo.h"

namespace swarmkv {

ColdKvStream::ColdKvStream(int num_layers, int64_t slice_bytes)
    : num_layers_(num_layers), slice_bytes_(slice_bytes) {
  progress_[0].store(-1);
  progress_[1].store(-1);
}

ColdKvStream::~ColdKvStream() {
  EndStep();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (reader_.joinable()) reader_.join();
}

void ColdKvStream::BeginStep(std::vector<ColdSpan> spans) {
  EndStep();
  std::lock_guard<std::mutex> lock(mu_);
  spans_.clear();
  span_pos_.clear();
  size_t max_cold = 0;
  for (ColdSpan& cs : spans) {
    Span s;
    s.cold_slot.assign(cs.blocks.size(), -1);
    for (size_t b = 0; b < cs.blocks.size(); ++b) {
      if (cs.blocks[b] == nullptr) {
        s.cold_slot[b] = static_cast<int32_t>(s.cold_blocks.size());
        s.cold_blocks.push_back(static_cast<int64_t>(b));
      }
    }
    if (s.cold_blocks.empty() || cs.file == nullptr) continue;
    max_cold = std::max(max_cold, s.cold_blocks.size());
    if (span_pos_.size() <= cs.span_index) span_pos_.resize(cs.span_index + 1, -1);
    span_pos_[cs.span_index] = static_cast<int32_t>(spans_.size());
    s.in = std::move(cs);
    spans_.push_back(std::move(s));
  }
  const size_t need = max_cold * static_cast<size_t>(slice_bytes_);
  for (auto& buf : buffers_) {
    if (buf.size() < need) buf.resize(need);
  }
  step_base_ += num_chunks_ + 2;  // fresh chunk ids: stale progress values never match
  num_chunks_ = static_cast<int64_t>(spans_.size()) * num_layers_;
  next_fill_ = 0;
  released_ = 0;
  cancel_ = false;
  active_ = num_chunks_ > 0;
  chunk_of_buffer_[0] = chunk_of_buffer_[1] = -1;
  if (!active_) return;
  // The reader starts with the first step that has cold blocks: a model that never streams (most
  // of them: no --kv-hot-window and never swapped) keeps no idle thread.
  if (!reader_.joinable()) reader_ = std::thread([this] { ReaderLoop(); });
  cv_.notify_all();
}

void ColdKvStream::EndStep() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!active_) return;
  cancel_ = true;
  cv_.wait(lock, [&] { return !reader_busy_; });
  active_ = false;
}

int64_t ColdKvStream::ChunkOf(size_t span_index, int layer) const {
  if (span_index >= span_pos_.size() || span_pos_[span_index] < 0) return -1;
  return static_cast<int64_t>(layer) * static_cast<int64_t>(spans_.size()) + span_pos_[span_index];
}

Status ColdKvStream::Prepare(size_t span_index, int layer, PagedKv* kv) {
  if (!active_) return Status::OK();
  const int64_t k = ChunkOf(span_index, layer);
  if (k < 0) return Status::OK();
  const Span& span = spans_[static_cast<size_t>(span_pos_[span_index])];
  if (static_cast<int64_t>(span.in.blocks.size()) < kv->num_blocks)
    return InternalError("cold KV stream: block table shorter than the attention's blocks");
  const int buffer = static_cast<int>(k % 2);
  {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = std::max(released_, k);  // chunk k-1's attention returned: its buffer is free
  }
  cv_.notify_all();
  Source& src = sources_[buffer];
  src.stream = this;
  src.span = &span;
  src.layer_base = kv->layout.k_offset;
  src.data = buffers_[buffer].data();
  src.slice_bytes = slice_bytes_;
  src.tag = (step_base_ + k) << 32;
  src.buffer = buffer;
  kv->layout.k_offset -= src.layer_base;
  kv->layout.v_offset -= src.layer_base;
  kv->source = &src;
  return Status::OK();
}

Status ColdKvStream::Finish(size_t span_index, int layer) {
  if (!active_) return Status::OK();
  const int64_t k = ChunkOf(span_index, layer);
  if (k < 0) return Status::OK();
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.chunks;
  const int buffer = static_cast<int>(k % 2);
  if (chunk_of_buffer_[buffer] == k && !chunk_status_[buffer].ok()) return chunk_status_[buffer];
  return Status::OK();
}

const uint8_t* ColdKvStream::Source::Block(int64_t i) const {
  const int32_t slot = span->cold_slot[static_cast<size_t>(i)];
  if (slot < 0) return span->in.blocks[static_cast<size_t>(i)] + layer_base;
  const int64_t need = tag | (slot + 1);
  if (stream->progress_[buffer].load(std::memory_order_acquire) < need) {
    stream->waits_.fetch_add(1, std::memory_order_relaxed);
    stream->WaitFor(buffer, tag, need);
  }
  return data + static_cast<int64_t>(slot) * slice_bytes;
}

void ColdKvStream::WaitFor(int buffer, int64_t tag, int64_t need) const {
  Fill& f = fill_[buffer];
  std::unique_lock<std::mutex> lock(mu_);
  auto can_help = [&] { return f.tag == tag && f.next_run.load() < f.runs.size(); };
  while (progress_[buffer].load(std::memory_order_acquire) < need) {
    // The reader has started this chunk and runs are left: read one instead of waiting.
    if (can_help()) {
      const size_t r = f.next_run.fetch_add(1);
      if (r < f.runs.size()) {
        lock.unlock();
        ReadRun(buffer, r);
        lock.lock();
      }
      continue;
    }
    cv_.wait(lock, [&] { return progress_[buffer].load(std::memory_order_acquire) >= need || can_help(); });
  }
}

void ColdKvStream::ReaderLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] {
      return stop_ || (active_ && !cancel_ && next_fill_ < num_chunks_ && next_fill_ < released_ + 2);
    });
    if (stop_) return;
    const int64_t k = next_fill_++;
    const int buffer = static_cast<int>(k % 2);
    reader_busy_ = true;
    chunk_of_buffer_[buffer] = k;
    chunk_status_[buffer] = Status::OK();
    lock.unlock();
    FillChunk(k, buffer);
    lock.lock();
    reader_busy_ = false;
    cv_.notify_all();
  }
}

void ColdKvStream::FillChunk(int64_t k, int buffer) {
  Fill& f = fill_[buffer];
  const int64_t tag = (step_base_ + k) << 32;
  {
    std::lock_guard<std::mutex> lock(mu_);
    f.span = &spans_[static_cast<size_t>(k % static_cast<int64_t>(spans_.size()))];
    f.layer = static_cast<int>(k / static_cast<int64_t>(spans_.size()));
    f.runs.clear();
    const std::vector<int64_t>& cold = f.span->cold_blocks;
    const int64_t n = static_cast<int64_t>(cold.size());
    for (int64_t i = 0; i < n;) {
      // A run of consecutive block indices is one contiguous range of the layer's region.
      int64_t j = i + 1;
      while (j < n && j - i < kRunBlocks && cold[j] == cold[j - 1] + 1) ++j;
      f.runs.emplace_back(i, j - i);
      i = j;
    }
    f.done.assign(f.runs.size(), 0);
    f.published = 0;
    f.next_run.store(0);
    f.tag = tag;
    if (f.runs.empty()) progress_[buffer].store(tag, std::memory_order_release);
  }
  cv_.notify_all();  // waiting kernel threads may help from now on
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Step ended (no attention runs any more): leave the unread runs.
      if (cancel_ || stop_) f.next_run.store(f.runs.size());
    }
    const size_t r = f.next_run.fetch_add(1);
    if (r >= f.runs.size()) break;
    ReadRun(buffer, r);
  }
  // Runs claimed by helping threads finish inside the attention call; wait for them so the
  // chunk's status and the stats are final before the buffer can be refilled.
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return f.published == f.runs.size() || cancel_ || stop_; });
}

void ColdKvStream::ReadRun(int buffer, size_t r) const {
  Fill& f = fill_[buffer];
  const auto [first, count] = f.runs[r];
  const std::vector<int64_t>& cold = f.span->cold_blocks;
  uint8_t* data = const_cast<uint8_t*>(buffers_[buffer].data());
  const int64_t start = MonotonicNanos();
  const Status st = f.span->in.file->ReadSlices(f.layer, cold[static_cast<size_t>(first)], count,
                                                data + first * slice_bytes_);
  const int64_t nanos = MonotonicNanos() - start;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (st.ok()) {
      stats_.slices_read += count;
      stats_.bytes_read += count * slice_bytes_;
      stats_.read_nanos += nanos;
    } else {
      // The chunk failed: its waiters get readable junk, Finish reports the error.
      if (chunk_status_[buffer].ok()) {
        chunk_status_[buffer] = st.WithContext("cold KV of layer " + std::to_string(f.layer));
      }
      ++stats_.read_errors;
    }
    f.done[r] = 1;
    while (f.published < f.runs.size() && f.done[f.published]) ++f.published;
    const int64_t ready =
        f.published == f.runs.size() ? static_cast<int64_t>(cold.size()) : f.runs[f.published].first;
    progress_[buffer].store(f.tag | ready, std::memory_order_release);
  }
  cv_.notify_all();
}

ColdKvStreamStats ColdKvStream::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  ColdKvStreamStats s = stats_;
  s.waits = waits_.load();
  return s;
}

uint64_t ColdKvStream::buffer_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buffers_[0].size() + buffers_[1].size();
}

}  // namespace swarmkv
