#pragma once
// The dashboard-update service as a module: the hub of live subscribers and its SSE routes,
// installed by both dashboard-update-service (fed by Kafka) and count-system (fed by the
// in-process bus). Whoever feeds it calls Publish.
#include <span>

#include "core/dashboard.hpp"
#include "core/event.hpp"
#include "live_api.hpp"
#include "live_hub.hpp"
#include "runtime/service.hpp"

namespace count::live {

class LiveModule {
 public:
  // `values` serves the snapshots (the replica in services mode); settings from the
  // environment (HubOptionsFromEnv).
  LiveModule(runtime::Service& service, core::CountValueStore& values,
             core::DashboardStore& dashboards);
  void Publish(std::span<const core::Event> events) { hub_.Publish(events); }

 private:
  LiveHub hub_;
  LiveApi api_;
};

}  // namespace count::live
