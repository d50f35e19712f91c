#pragma once
// The dashboard-provision service as a module: dashboard configurations, the summary and the
// dashboard page of the console, installed by both dashboard-provision-service and
// count-system.
#include "dashboard_api.hpp"
#include "http/router.hpp"

namespace count::dashboard {

struct DashboardStores {
  core::DashboardStore& dashboards;
  core::CountInfoStore& counts;   // which counters exist (validation, the summary)
  core::CountValueStore& values;  // the summary's values (the replica in services)
};

class DashboardModule {
 public:
  DashboardModule(http::Router& router, DashboardStores stores, SummaryCache summary_cache = {});

 private:
  DashboardApi api_;
};

}  // namespace count::dashboard
