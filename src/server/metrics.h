// A small metrics registry: counters, gauges and histograms with labels, rendered as Prometheus
// text (exposition format 0.0.4).
//
// A family (one metric name, one type, one help line, fixed label names) holds one series per
// distinct label-value tuple. Series are created on first use and live as long as the registry;
// callers may keep the returned pointers.
//
// Invariant: a name is registered once with one type and one label-name list; registering it
// again with the same definition returns the same family, with a different one is a bug
// (SKV_CHECK). Histogram bucket bounds are strictly increasing; +Inf is implicit.
//
// Thread-safety: everything is thread-safe. Counter/gauge updates are lock-free atomics;
// histogram observations and series look-ups take a short per-family lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace swarmkv {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void Increment(double delta = 1.0);  // delta < 0 is ignored (counters only go up)
  // For totals counted by another component (the memory core): takes `total` if it is larger.
  void MirrorTotal(double total);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf (== count)
    uint64_t count = 0;
    double sum = 0.0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), last is +Inf
  double sum_ = 0.0;
};

// Exponential bucket bounds: start, start*factor, ... (count bounds).
std::vector<double> ExponentialBuckets(double start, double factor, int count);

class MetricsRegistry {
 public:
  template <typename T>
  class Family {
   public:
    // The series for these label values (one per label name), created on first use.
    T* WithLabels(const LabelValues& values);
    T* Get() { return WithLabels({}); }

   private:
    friend class MetricsRegistry;
    std::string name_, help_, type_;
    std::vector<std::string> label_names_;
    std::vector<double> bounds_;  // histograms only
    std::mutex mu_;
    std::map<LabelValues, std::unique_ptr<T>> series_;
  };

  Family<Counter>* AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>* AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>* AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds, std::vector<std::string> label_names = {});

  // Prometheus text format, families in registration order, series in label order.
  std::string RenderPrometheus() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::pair<char, size_t>> order_;  // ('c'|'g'|'h', index) in registration order

  template <typename F>
  F* FindOrAdd(std::vector<std::unique_ptr<F>>& list, char kind, const std::string& name, const std::string& help,
               const char* type, std::vector<std::string> labels, std::vector<double> bounds);
};

// Escapes a label value for the text format (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& v);

}  // namespace swarmkv
