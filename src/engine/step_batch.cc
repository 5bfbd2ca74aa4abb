#include "engine/step_batch.h"

#include "base/logging.h"

namespace swarmkv {

void StepBatch::Add(SlotId slot, int64_t first_position, std::span<const int32_t> span_tokens, bool want_logits) {
  SKV_CHECK(!span_tokens.empty()) << "empty span for slot " << slot;
  spans.push_back({slot, first_position, static_cast<int32_t>(span_tokens.size()), want_logits});
  tokens.insert(tokens.end(), span_tokens.begin(), span_tokens.end());
}

Status StepBatch::Validate() const {
  int64_t total = 0;
  for (const StepSpan& s : spans) {
    if (s.num_tokens <= 0) return InvalidArgumentError("step batch: span of slot " + std::to_string(s.slot) + " has no tokens");
    if (s.first_position < 0) return InvalidArgumentError("step batch: negative position for slot " + std::to_string(s.slot));
    total += s.num_tokens;
  }
  if (total != static_cast<int64_t>(tokens.size()))
    return InvalidArgumentError("step batch: spans cover " + std::to_string(total) + " tokens but the batch has " +
                                std::to_string(tokens.size()));
  return Status::OK();
}

}  // namespace swarmkv
