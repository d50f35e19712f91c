#pragma once
// UC-005: dashboard configurations for administrators and the summary figures of the
// dashboard page (docs/API.md, "Dashboards").
#include <chrono>
#include <cstdint>
#include <optional>

#include "core/dashboard.hpp"
#include "core/ports.hpp"
#include "http/router.hpp"

namespace count::dashboard {

// Figures over every counter: CountInfoDB says which counters exist, the value store
// (the Redis replica in services) what they hold.
struct Summary {
  std::size_t total_counters = 0;
  std::size_t counters_with_value = 0;  // a counter the value store lost has none
  __int128 total_value = 0;             // exact: a sum of int64 values may leave int64
  std::optional<core::Timestamp> last_updated_at;
};

// Reads every counter in pages of `page_size`: O(counters) per call.
Summary Summarize(core::CountInfoStore& counts, core::CountValueStore& values,
                  std::size_t page_size = 1000);

// The summary reads every counter: with a cache shared by the replicas (REDIS_CACHE_URL) it is
// computed at most once per `ttl` however many dashboards ask, and may be that much behind.
struct SummaryCache {
  core::ResultCache* cache = nullptr;  // none: computed on every request
  std::chrono::milliseconds ttl{1000};
};

class DashboardApi {
 public:
  // `counts` answers whether referenced counters exist; `values` feeds the summary.
  DashboardApi(core::DashboardStore& dashboards, core::CountInfoStore& counts,
               core::CountValueStore& values, SummaryCache summary_cache = {})
      : dashboards_(dashboards), counts_(counts), values_(values), summary_cache_(summary_cache) {}
  void Register(http::Router& router);

 private:
  http::Response List(http::Request& request);
  http::Response Create(http::Request& request);
  http::Response Get(http::Request& request);
  http::Response Put(http::Request& request);
  http::Response Delete(http::Request& request);
  http::Response GetSummary(http::Request& request);
  std::optional<core::Problem> Check(const core::Dashboard& d);

  core::DashboardStore& dashboards_;
  core::CountInfoStore& counts_;
  core::CountValueStore& values_;
  SummaryCache summary_cache_;
};

}  // namespace count::dashboard
