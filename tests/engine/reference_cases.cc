#include "reference_cases.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace swarmkv::testing {

Result<ReferenceFile> LoadReferenceFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("reference file '" + path + "' cannot be opened");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    return CorruptionError("reference file '" + path + "': " + e.what());
  }
  ReferenceFile out;
  try {
    out.model = j.value("model", "");
    if (!j.contains("cases") || !j["cases"].is_array()) return CorruptionError("reference '" + path + "': no 'cases' array");
    int index = 0;
    for (const auto& jc : j["cases"]) {
      ReferenceCase c;
      c.prompt = jc.at("prompt").get<std::string>();
      c.prompt_tokens = jc.at("prompt_tokens").get<std::vector<int32_t>>();
      c.tokens = jc.at("tokens").get<std::vector<int32_t>>();
      c.content = jc.value("content", "");
      for (const auto& step : jc.at("top_logprobs")) {
        std::vector<std::pair<int32_t, double>> row;
        for (const auto& pair : step) row.emplace_back(pair.at(0).get<int32_t>(), pair.at(1).get<double>());
        c.top_logprobs.push_back(std::move(row));
      }
      if (c.prompt_tokens.empty() || c.top_logprobs.size() != c.tokens.size())
        return CorruptionError("reference '" + path + "' case " + std::to_string(index) + ": " +
                               std::to_string(c.tokens.size()) + " tokens but " + std::to_string(c.top_logprobs.size()) +
                               " top_logprobs steps (or an empty prompt)");
      out.cases.push_back(std::move(c));
      ++index;
    }
  } catch (const std::exception& e) {
    return CorruptionError("reference file '" + path + "': " + e.what());
  }
  return out;
}

std::vector<double> LogSoftmax(std::span<const float> logits) {
  double max = -INFINITY;
  for (float l : logits) max = std::max<double>(max, l);
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  const double log_sum = std::log(sum) + max;
  std::vector<double> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - log_sum;
  return out;
}

double MaxLogProbDiff(std::span<const std::pair<int32_t, double>> ref, std::span<const float> logits) {
  const std::vector<double> lp = LogSoftmax(logits);
  double worst = 0.0;
  for (const auto& [id, want] : ref) {
    if (id < 0 || static_cast<size_t>(id) >= lp.size()) return INFINITY;
    worst = std::max(worst, std::abs(lp[id] - want));
  }
  return worst;
}

Status CheckStep(std::span<const std::pair<int32_t, double>> ref, std::span<const float> logits, int step,
                 const ParityOptions& options) {
  if (ref.empty()) return Status::OK();
  const std::vector<double> lp = LogSoftmax(logits);
  for (const auto& [id, want] : ref) {
    if (id < 0 || static_cast<size_t>(id) >= lp.size())
      return FailedPreconditionError("step " + std::to_string(step) + ": reference token " + std::to_string(id) +
                                     " outside the vocabulary of " + std::to_string(lp.size()));
    if (std::abs(lp[id] - want) > options.tolerance) {
      std::ostringstream os;
      os << "step " << step << ": token " << id << " log-prob " << lp[id] << " vs reference " << want << " (|diff| "
         << std::abs(lp[id] - want) << " > " << options.tolerance << ")";
      return FailedPreconditionError(os.str());
    }
  }
  if (ref.size() >= 2 && ref[0].second - ref[1].second > options.top_gap) {
    const int32_t top = static_cast<int32_t>(std::max_element(lp.begin(), lp.end()) - lp.begin());
    if (top != ref[0].first)
      return FailedPreconditionError("step " + std::to_string(step) + ": top token " + std::to_string(top) +
                                     " but the reference's is " + std::to_string(ref[0].first));
  }
  return Status::OK();
}

Status CheckTeacherForced(const ReferenceCase& c, const NextLogitsFn& next, const ParityOptions& options) {
  std::vector<int32_t> seq = c.prompt_tokens;
  for (size_t i = 0; i < c.tokens.size(); ++i) {
    SKV_ASSIGN_OR_RETURN(std::vector<float> logits, next(seq));
    SKV_RETURN_IF_ERROR(CheckStep(c.top_logprobs[i], logits, static_cast<int>(i), options)
                            .WithContext("prompt '" + c.prompt + "'"));
    seq.push_back(c.tokens[i]);
  }
  return Status::OK();
}

}  // namespace swarmkv::testing
