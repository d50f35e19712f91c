#include "live_module.hpp"

namespace count::live {

LiveModule::LiveModule(runtime::Service& service, core::CountValueStore& values,
                       core::DashboardStore& dashboards)
    : hub_(values, HubOptionsFromEnv(service.env())), api_(hub_, dashboards, service) {
  api_.Register(service.router(), service.metrics());
}

}  // namespace count::live
