#include "engine/step_stats.h"

#include <cstdlib>
#include <ctime>

namespace swarmkv {

StepKindTotals& StepKindTotals::operator+=(const StepKindTotals& o) {
  steps += o.steps;
  decode_rows += o.decode_rows;
  prefill_rows += o.prefill_rows;
  forward_ns += o.forward_ns;
  step_ns += o.step_ns;
  return *this;
}

StepTotals& StepTotals::operator+=(const StepTotals& o) {
  decode += o.decode;
  mixed += o.mixed;
  prefill += o.prefill;
  return *this;
}

StepShape ShapeOf(const StepBatch& batch) {
  StepShape s;
  s.spans = static_cast<int64_t>(batch.spans.size());
  for (const StepSpan& span : batch.spans) {
    if (span.num_tokens == 1 && span.want_logits) {
      ++s.decode_rows;
    } else {
      s.prefill_rows += span.num_tokens;
    }
  }
  return s;
}

StepStats::StepStats() {
  const char* path = std::getenv("SWARMKV_STEP_TRACE");
  if (path != nullptr && *path != '\0') {
    trace_ = std::fopen(path, "a");
    if (trace_ != nullptr) std::setvbuf(trace_, nullptr, _IOLBF, 0);  // whole lines, even if killed
    if (trace_ != nullptr) std::fputs("t_ms\tspans\tdecode_rows\tprefill_rows\tform_ms\tforward_ms\tapply_ms\tcpu_ms\n", trace_);
  }
}

StepStats::~StepStats() {
  if (trace_ != nullptr) std::fclose(trace_);
}

void StepStats::Record(const StepShape& shape, int64_t begin_ns, int64_t formed_ns, int64_t forward_done_ns,
                       int64_t end_ns) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    StepKindTotals& k = shape.prefill_rows == 0 ? totals_.decode : shape.decode_rows == 0 ? totals_.prefill : totals_.mixed;
    ++k.steps;
    k.decode_rows += shape.decode_rows;
    k.prefill_rows += shape.prefill_rows;
    k.forward_ns += forward_done_ns - formed_ns;
    k.step_ns += end_ns - begin_ns;
  }
  if (trace_ == nullptr) return;
  if (first_ns_ == 0) first_ns_ = begin_ns;
  // CPU time of the whole process (every thread) since the last step ended: on a shared machine
  // wall time says how much CPU the step got, this how much it needed.
  timespec cpu{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
  const int64_t cpu_ns = static_cast<int64_t>(cpu.tv_sec) * 1000000000 + cpu.tv_nsec;
  const int64_t cpu_step_ns = last_cpu_ns_ == 0 ? 0 : cpu_ns - last_cpu_ns_;
  last_cpu_ns_ = cpu_ns;
  auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  std::fprintf(trace_, "%.3f\t%lld\t%lld\t%lld\t%.3f\t%.3f\t%.3f\t%.3f\n", ms(begin_ns - first_ns_),
               static_cast<long long>(shape.spans), static_cast<long long>(shape.decode_rows),
               static_cast<long long>(shape.prefill_rows), ms(formed_ns - begin_ns), ms(forward_done_ns - formed_ns),
               ms(end_ns - forward_done_ns), ms(cpu_step_ns));
}

StepTotals StepStats::Totals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return totals_;
}

}  // namespace swarmkv
