#pragma once
// Prometheus text exposition (format 0.0.4). Hand-written: Debian 12 packages no
// Prometheus client library for C++, and the format is a few lines of text.
#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace count::runtime {

class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    5};

  void ObserveRequest(std::string_view route, std::string_view method, int status, double seconds);
  void CountDependencyError(std::string_view dependency);
  // A value read at scrape time, e.g. open connections or consumer lag. The reads run
  // outside the registry's lock, so a read may itself record (a readiness check does).
  void AddGauge(std::string name, std::string help, std::function<double()> read);
  // The same for a total that only grows while the process lives (typed counter, so
  // rate() and increase() apply); name it `…_total`.
  void AddCounter(std::string name, std::string help, std::function<double()> read);
  // Gauges of one name told apart by one label, read together at scrape time: `read` returns
  // (label value, value) pairs, e.g. consumer_lag{partition="0"} per assigned partition.
  using LabelledValues = std::vector<std::pair<std::string, double>>;
  void AddLabelledGauge(std::string name, std::string help, std::string label,
                        std::function<LabelledValues()> read);

  Metrics();
  std::string Render() const;

 private:
  struct Histogram {
    // Per bucket, the observations in it and not in a lower one (one increment per
    // observation); Render adds them up into the format's cumulative `le` buckets.
    std::array<std::atomic<std::uint64_t>, kBuckets.size()> buckets{};
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> sum_micros{0};
  };
  struct Gauge {
    std::string name, help, type;
    std::function<double()> read;
    std::string label;  // set: a labelled gauge, read by read_labelled
    std::function<LabelledValues()> read_labelled;
  };
  struct Key {
    std::string_view route, method;
    int status = 0;  // 0 for the latency histogram, which spans statuses
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  template <class T>
  T& Slot(std::unordered_map<Key, std::unique_ptr<T>, KeyHash>& map, const Key& key);
  template <class T>
  T& Slot(std::map<std::string, std::unique_ptr<T>, std::less<>>& map, std::string_view key);

  // Tells this registry's entries in a thread's cache of slots (ObserveRequest) from those
  // of a registry that lived at the same address before.
  const std::uint64_t id_;
  mutable std::shared_mutex mu_;
  std::unordered_map<Key, std::unique_ptr<std::atomic<std::uint64_t>>, KeyHash> requests_;
  std::unordered_map<Key, std::unique_ptr<Histogram>, KeyHash> latency_;
  std::map<std::string, std::unique_ptr<std::atomic<std::uint64_t>>, std::less<>> dep_errors_;
  std::vector<Gauge> gauges_;
};

}  // namespace count::runtime
