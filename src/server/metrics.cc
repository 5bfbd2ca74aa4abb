#include "server/metrics.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "base/logging.h"

namespace swarmkv {

void Counter::Increment(double delta) {
  if (!(delta > 0)) return;
  double cur = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(cur, cur + delta, std::memory_order_relaxed)) {
  }
}

void Counter::MirrorTotal(double total) {
  double cur = value_.load(std::memory_order_relaxed);
  while (total > cur && !value_.compare_exchange_weak(cur, total, std::memory_order_relaxed)) {
  }
}

void Gauge::Add(double delta) {
  double cur = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(cur, cur + delta, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  for (size_t i = 1; i < bounds_.size(); ++i) SKV_CHECK(bounds_[i - 1] < bounds_[i]) << "bucket bounds must increase";
}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;  // le semantics: v <= bound
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[i];
  sum_ += v;
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t acc = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    acc += counts_[i];
    s.cumulative_counts.push_back(acc);
  }
  s.count = acc;
  s.sum = sum_;
  return s;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> b;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

template <typename T>
T* MetricsRegistry::Family<T>::WithLabels(const LabelValues& values) {
  SKV_CHECK(values.size() == label_names_.size())
      << name_ << ": " << values.size() << " label values for " << label_names_.size() << " labels";
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return it->second.get();
  std::unique_ptr<T> s;
  if constexpr (std::is_same_v<T, Histogram>) {
    s = std::make_unique<Histogram>(bounds_);
  } else {
    s = std::make_unique<T>();
  }
  T* raw = s.get();
  series_.emplace(values, std::move(s));
  return raw;
}

template class MetricsRegistry::Family<Counter>;
template class MetricsRegistry::Family<Gauge>;
template class MetricsRegistry::Family<Histogram>;

namespace {

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

std::string LabelString(const std::vector<std::string>& names, const LabelValues& values,
                        const std::string& extra_name = "", const std::string& extra_value = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!out.empty()) out += ",";
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!out.empty()) out += ",";
    out += extra_name + "=\"" + extra_value + "\"";
  }
  return out.empty() ? "" : "{" + out + "}";
}

}  // namespace

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

template <typename F>
F* MetricsRegistry::FindOrAdd(std::vector<std::unique_ptr<F>>& list, char kind, const std::string& name,
                              const std::string& help, const char* type, std::vector<std::string> labels,
                              std::vector<double> bounds) {
  for (auto& f : list) {
    if (f->name_ == name) {
      SKV_CHECK(f->label_names_ == labels && f->bounds_ == bounds) << "metric " << name << " redefined";
      return f.get();
    }
  }
  auto f = std::make_unique<F>();
  f->name_ = name;
  f->help_ = help;
  f->type_ = type;
  f->label_names_ = std::move(labels);
  f->bounds_ = std::move(bounds);
  order_.emplace_back(kind, list.size());
  list.push_back(std::move(f));
  return list.back().get();
}

MetricsRegistry::Family<Counter>* MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                                              std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindOrAdd(counters_, 'c', name, help, "counter", std::move(label_names), {});
}

MetricsRegistry::Family<Gauge>* MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                                          std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindOrAdd(gauges_, 'g', name, help, "gauge", std::move(label_names), {});
}

MetricsRegistry::Family<Histogram>* MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                                                  std::vector<double> bounds,
                                                                  std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindOrAdd(histograms_, 'h', name, help, "histogram", std::move(label_names), std::move(bounds));
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream os;
  auto header = [&](const auto& f) {
    os << "# HELP " << f.name_ << " " << f.help_ << "\n# TYPE " << f.name_ << " " << f.type_ << "\n";
  };
  for (auto [kind, index] : order_) {
    if (kind == 'c' || kind == 'g') {
      auto render = [&](auto& f) {
        header(f);
        std::lock_guard<std::mutex> fl(f.mu_);
        for (auto& [values, s] : f.series_)
          os << f.name_ << LabelString(f.label_names_, values) << " " << FormatValue(s->value()) << "\n";
      };
      if (kind == 'c') render(*counters_[index]);
      else render(*gauges_[index]);
    } else {
      auto& f = *histograms_[index];
      header(f);
      std::lock_guard<std::mutex> fl(f.mu_);
      for (auto& [values, h] : f.series_) {
        auto snap = h->Read();
        for (size_t i = 0; i <= snap.bounds.size(); ++i) {
          std::string le = i < snap.bounds.size() ? FormatValue(snap.bounds[i]) : "+Inf";
          os << f.name_ << "_bucket" << LabelString(f.label_names_, values, "le", le) << " "
             << snap.cumulative_counts[i] << "\n";
        }
        os << f.name_ << "_sum" << LabelString(f.label_names_, values) << " " << FormatValue(snap.sum) << "\n";
        os << f.name_ << "_count" << LabelString(f.label_names_, values) << " " << snap.count << "\n";
      }
    }
  }
  return os.str();
}

}  // namespace swarmkv
