// AttentionKvSources: the forward pass's seam for KV blocks that are not resident in RAM.
//
// Around each sequence's attention in each layer, the forward pass calls Prepare (which may point
// the PagedKv at a KvBlockSource and rebase its layout) and then Finish (the source's read errors,
// if any: the step fails, and the scheduler reruns its sequences alone, so only the sequence whose
// cold KV cannot be read fails). Implemented by ColdKvStream (engine/cold_kv_stream.h).
//
// Thread-safety: called from the forward pass's thread, in its layer-then-span order.
#pragma once

#include <cstddef>

#include "base/status.h"
#include "kernels/attention.h"

namespace swarmkv {

class AttentionKvSources {
 public:
  virtual ~AttentionKvSources() = default;
  // Before span `span_index`'s attention in `layer`; leaves `kv` unchanged for a span without
  // cold blocks.
  virtual Status Prepare(size_t span_index, int layer, PagedKv* kv) = 0;
  // After that attention returned.
  virtual Status Finish(size_t span_index, int layer) = 0;
  // True when span `span_index` of the current step has blocks this source streams (it then
  // attends alone: the shared-prefix kernel reads resident blocks only).
  virtual bool Streams(size_t span_index) const = 0;
};

}  // namespace swarmkv
