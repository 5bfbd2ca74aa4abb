#include "engine/sampler.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "base/logging.h"

namespace swarmkv {
namespace {

bool Finite(float x) { return std::isfinite(x); }

// Orders candidates by logit, highest first; equal logits by lower id (determinism).
struct ByLogitDesc {
  template <typename C>
  bool operator()(const C& a, const C& b) const {
    if (a.logit != b.logit) return a.logit > b.logit;
    return a.id < b.id;
  }
};

}  // namespace

Result<Sampler> Sampler::Create(const SamplingParams& p, int32_t vocab_size) {
  if (vocab_size <= 0) return InvalidArgumentError("sampler: vocab_size " + std::to_string(vocab_size) + " must be > 0");
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f)
    return InvalidArgumentError("sampling: temperature " + std::to_string(p.temperature) + " must be >= 0 (0 = greedy)");
  if (!std::isfinite(p.top_p) || p.top_p <= 0.0f)
    return InvalidArgumentError("sampling: top_p " + std::to_string(p.top_p) + " must be in (0, 1] (1 = off)");
  if (!std::isfinite(p.min_p) || p.min_p >= 1.0f)
    return InvalidArgumentError("sampling: min_p " + std::to_string(p.min_p) + " must be < 1 (0 = off)");
  if (!std::isfinite(p.repeat_penalty) || p.repeat_penalty <= 0.0f)
    return InvalidArgumentError("sampling: repeat_penalty " + std::to_string(p.repeat_penalty) + " must be > 0 (1 = off)");
  if (p.repeat_last_n < -1)
    return InvalidArgumentError("sampling: repeat_last_n " + std::to_string(p.repeat_last_n) +
                                " must be >= -1 (-1 = whole context, 0 = off)");
  if (!std::isfinite(p.presence_penalty) || !std::isfinite(p.frequency_penalty))
    return InvalidArgumentError("sampling: presence/frequency penalties must be finite");
  return Sampler(p, vocab_size);
}

uint64_t Sampler::PickSeed() {
  static std::atomic<uint64_t> counter{0};
  const uint64_t t = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  Rng mix(t ^ (counter.fetch_add(1) * 0x9e3779b97f4a7c15ULL));
  return mix.Next() & 0x7fffffffffffffffULL;  // positive when printed as int64 (JSON clients)
}

Sampler::Sampler(const SamplingParams& params, int32_t vocab_size)
    : params_(params), vocab_size_(vocab_size), rng_(params.seed) {}

void Sampler::AcceptPrompt(std::span<const int32_t> tokens) {
  for (int32_t t : tokens) Accept(t);
}

void Sampler::Accept(int32_t token) {
  if (params_.repeat_last_n == 0) return;
  window_.push_back(token);
  ++counts_[token];
  if (params_.repeat_last_n > 0 && static_cast<int32_t>(window_.size()) > params_.repeat_last_n) {
    const int32_t old = window_.front();
    window_.pop_front();
    auto it = counts_.find(old);
    if (--it->second == 0) counts_.erase(it);
  }
}

void Sampler::ApplyPenalties(std::vector<Candidate>* cands) const {
  const bool active = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                      params_.frequency_penalty != 0.0f;
  if (!active || counts_.empty()) return;
  // Candidates are still indexed by token id here (cands[i].id == i).
  for (const auto& [id, count] : counts_) {
    if (id < 0 || id >= vocab_size_) continue;
    float& l = (*cands)[id].logit;
    if (l <= 0.0f) {
      l *= params_.repeat_penalty;
    } else {
      l /= params_.repeat_penalty;
    }
    l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

int32_t Sampler::FirstAllowed(std::span<const uint64_t> allowed) const {
  for (size_t w = 0; w < allowed.size(); ++w)
    if (allowed[w] != 0) return std::min<int32_t>(static_cast<int32_t>(w * 64) + std::countr_zero(allowed[w]), vocab_size_ - 1);
  return 0;
}

TokenLogprobs Sampler::Logprobs(std::span<const float> logits, int32_t token, int32_t top_n) {
  TokenLogprobs out;
  double max_logit = -std::numeric_limits<double>::infinity();
  for (float l : logits)
    if (Finite(l)) max_logit = std::max<double>(max_logit, l);
  double sum = 0.0;
  for (float l : logits)
    if (Finite(l)) sum += std::exp(static_cast<double>(l) - max_logit);
  const double log_z = max_logit + std::log(sum);
  auto lp = [&](int32_t id) {
    const float l = logits[static_cast<size_t>(id)];
    return Finite(l) ? static_cast<float>(static_cast<double>(l) - log_z) : -std::numeric_limits<float>::infinity();
  };
  out.chosen = {token, lp(token)};
  const int32_t n = std::clamp<int32_t>(top_n, 0, static_cast<int32_t>(logits.size()));
  if (n > 0) {
    std::vector<Candidate> c(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) c[i] = {static_cast<int32_t>(i), Finite(logits[i]) ? logits[i] : -std::numeric_limits<float>::infinity()};
    std::partial_sort(c.begin(), c.begin() + n, c.end(), ByLogitDesc());
    for (int32_t i = 0; i < n; ++i) out.top.push_back({c[static_cast<size_t>(i)].id, lp(c[static_cast<size_t>(i)].id)});
  }
  return out;
}

int32_t Sampler::Sample(std::span<const float> logits, std::span<const uint64_t> allowed) {
  SKV_CHECK(static_cast<int32_t>(logits.size()) == vocab_size_)
      << "logits " << logits.size() << " vs vocab " << vocab_size_;
  const bool penalties = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                         params_.frequency_penalty != 0.0f;
  const bool masked = !allowed.empty();
  SKV_CHECK(!masked || static_cast<int64_t>(allowed.size()) * 64 >= vocab_size_) << "mask shorter than the vocabulary";
  auto ok = [&](int32_t i) { return !masked || ((allowed[static_cast<size_t>(i) / 64] >> (i % 64)) & 1) != 0; };
  if (greedy() && (!penalties || counts_.empty())) {
    // The first finite maximum (ByLogitDesc's order) without building candidates: a decode step
    // of a 49k vocabulary spent ~2% of its time copying them.
    int32_t best = -1;
    if (!masked) {
      for (int32_t i = 0; i < vocab_size_; ++i) {
        if (Finite(logits[i]) && (best < 0 || logits[i] > logits[best])) best = i;
      }
    } else {
      // Only the set bits: a mask inside a JSON structure allows a few hundred of 150k tokens.
      for (size_t w = 0; w < allowed.size(); ++w) {
        for (uint64_t bits = allowed[w]; bits != 0; bits &= bits - 1) {
          const int32_t i = static_cast<int32_t>(w * 64) + std::countr_zero(bits);
          if (i >= vocab_size_) break;
          if (Finite(logits[i]) && (best < 0 || logits[i] > logits[best])) best = i;
        }
      }
    }
    return best < 0 ? FirstAllowed(allowed) : best;
  }
  std::vector<Candidate>& c = scratch_;
  c.resize(vocab_size_);
  for (int32_t i = 0; i < vocab_size_; ++i) c[i] = {i, logits[i]};
  ApplyPenalties(&c);
  if (masked) {
    for (int32_t i = 0; i < vocab_size_; ++i)
      if (!ok(i)) c[i].logit = -std::numeric_limits<float>::infinity();
  }
  // Drop non-finite logits (NaN, +-inf) so nothing below divides by or compares against them.
  std::erase_if(c, [](const Candidate& x) { return !Finite(x.logit); });
  if (c.empty()) return FirstAllowed(allowed);

  if (greedy()) return std::min_element(c.begin(), c.end(), ByLogitDesc())->id;

  // top-k: keep the k best, sorted. Otherwise sort everything (top-p needs the order).
  if (params_.top_k > 0 && params_.top_k < static_cast<int32_t>(c.size())) {
    std::partial_sort(c.begin(), c.begin() + params_.top_k, c.end(), ByLogitDesc());
    c.resize(params_.top_k);
  } else {
    std::sort(c.begin(), c.end(), ByLogitDesc());
  }

  // Probabilities at temperature 1 (what top-p and min-p are defined on), in double.
  const double max_logit = c.front().logit;
  std::vector<double> prob(c.size());
  double sum = 0.0;
  for (size_t i = 0; i < c.size(); ++i) sum += prob[i] = std::exp(static_cast<double>(c[i].logit) - max_logit);

  size_t keep = c.size();
  if (params_.top_p < 1.0f) {
    double cum = 0.0;
    for (size_t i = 0; i < c.size(); ++i) {
      cum += prob[i] / sum;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.0f) {
    // prob[0] is the maximum (== 1 before normalisation); candidates are sorted, so cut the tail.
    size_t n = 1;
    while (n < keep && prob[n] >= params_.min_p) ++n;
    keep = n;
  }
  c.resize(keep);

  // Temperature, then draw.
  const double inv_t = 1.0 / params_.temperature;
  double total = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    total += prob[i] = std::exp((static_cast<double>(c[i].logit) - max_logit) * inv_t);
  }
  const double r = rng_.NextDouble() * total;
  double cum = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    cum += prob[i];
    if (r < cum) return c[i].id;
  }
  return c[keep - 1].id;  // rounding: r landed at the very top
}

}  // namespace swarmkv
