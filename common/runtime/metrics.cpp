#include "runtime/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <stdexcept>

namespace count::runtime {
namespace {

// A label value as the text format wants it: backslash, double quote and newline escaped.
std::string EscapeLabel(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

std::atomic<std::uint64_t> next_metrics_id{0};

}  // namespace

template <class T>
T& Metrics::Slot(std::map<std::string, std::unique_ptr<T>, std::less<>>& map,
                 std::string_view key) {
  {
    std::shared_lock lock(mu_);
    if (auto it = map.find(key); it != map.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto& slot = map[std::string(key)];
  if (!slot) slot = std::make_unique<T>();
  return *slot;
}

std::size_t Metrics::KeyHash::operator()(const Key& k) const {
  const std::hash<std::string_view> h;
  return h(k.route) * 31 + h(k.method) * 7 + static_cast<std::size_t>(k.status);
}

template <class T>
T& Metrics::Slot(std::unordered_map<Key, std::unique_ptr<T>, KeyHash>& map, const Key& key) {
  {
    std::shared_lock lock(mu_);
    if (auto it = map.find(key); it != map.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto& slot = map[key];
  if (!slot) slot = std::make_unique<T>();
  return *slot;
}

Metrics::Metrics() : id_(next_metrics_id.fetch_add(1)) {}

void Metrics::ObserveRequest(std::string_view route, std::string_view method, int status,
                             double seconds) {
  // Every request records here, from every event loop: each thread keeps the slots it has
  // used (they live as long as the registry), so a request takes no lock and hashes nothing.
  struct Cached {
    std::uint64_t registry;
    std::string route, method;
    int status;
    std::atomic<std::uint64_t>* requests;
    Histogram* latency;
  };
  thread_local std::vector<Cached> cache;
  Cached* slots = nullptr;
  for (auto& c : cache)
    if (c.registry == id_ && c.status == status && c.route == route && c.method == method) {
      slots = &c;
      break;
    }
  if (!slots) {
    if (cache.size() >= 64) cache.clear();  // bounded: routes × statuses seen by one thread
    cache.push_back({id_, std::string(route), std::string(method), status,
                     &Slot(requests_, Key{route, method, status}),
                     &Slot(latency_, Key{route, method, 0})});
    slots = &cache.back();
  }
  slots->requests->fetch_add(1, std::memory_order_relaxed);
  auto& h = *slots->latency;
  const auto bucket = std::find_if(kBuckets.begin(), kBuckets.end(),
                                   [seconds](double le) { return seconds <= le; });
  if (bucket != kBuckets.end())
    h.buckets[bucket - kBuckets.begin()].fetch_add(1, std::memory_order_relaxed);
  h.count.fetch_add(1, std::memory_order_relaxed);
  h.sum_micros.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Metrics::CountDependencyError(std::string_view dependency) {
  Slot(dep_errors_, fmt::format("dependency=\"{}\"", dependency)).fetch_add(1);
}

void Metrics::AddGauge(std::string name, std::string help, std::function<double()> read) {
  std::unique_lock lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), "gauge", std::move(read)});
}

void Metrics::AddCounter(std::string name, std::string help, std::function<double()> read) {
  std::unique_lock lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), "counter", std::move(read)});
}

void Metrics::AddLabelledGauge(std::string name, std::string help, std::string label,
                               std::function<LabelledValues()> read) {
  std::unique_lock lock(mu_);
  gauges_.push_back(
      {std::move(name), std::move(help), "gauge", nullptr, std::move(label), std::move(read)});
}

std::string Metrics::Render() const {
  std::string out;
  std::vector<Gauge> gauges;
  {
    std::shared_lock lock(mu_);
    gauges = gauges_;
  }
  for (const auto& g : gauges) {
    if (!g.label.empty()) {
      out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", g.name, g.help, g.name);
      try {
        for (const auto& [label, value] : g.read_labelled())
          out += fmt::format("{}{{{}=\"{}\"}} {}\n", g.name, g.label, EscapeLabel(label), value);
      } catch (const std::exception&) {  // no samples: the family is unknown at this moment
      }
      continue;
    }
    // A read that fails (its store is down: the outbox backlog in Redis) shows as NaN, so
    // the page, and every other metric on it, still answers when it matters most.
    double value = std::numeric_limits<double>::quiet_NaN();
    try {
      value = g.read();
    } catch (const std::exception&) {
    }
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", g.name, g.help, g.name, g.type,
                       g.name, value);
  }
  std::shared_lock lock(mu_);
  out += "# HELP http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE http_requests_total counter\n";
  for (const auto& [k, n] : requests_)
    out += fmt::format("http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                       k.route, k.method, k.status, n->load());
  out += "# HELP http_request_duration_seconds Time from request read to response ready.\n";
  out += "# TYPE http_request_duration_seconds histogram\n";
  for (const auto& [k, h] : latency_) {
    const auto labels = fmt::format("route=\"{}\",method=\"{}\"", k.route, k.method);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h->buckets[i].load();
      out += fmt::format("http_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                         kBuckets[i], cumulative);
    }
    out += fmt::format("http_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels,
                       h->count.load());
    out += fmt::format("http_request_duration_seconds_sum{{{}}} {}\n", labels,
                       h->sum_micros.load() / 1e6);
    out += fmt::format("http_request_duration_seconds_count{{{}}} {}\n", labels, h->count.load());
  }
  out += "# HELP dependency_errors_total Failed calls to a dependency (PostgreSQL, Redis, ...).\n";
  out += "# TYPE dependency_errors_total counter\n";
  for (const auto& [labels, n] : dep_errors_)
    out += fmt::format("dependency_errors_total{{{}}} {}\n", labels, n->load());
  return out;
}

}  // namespace count::runtime
