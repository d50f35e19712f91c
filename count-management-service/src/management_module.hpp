#pragma once
// The management service as a module: its routes, use cases and console page, installed by
// both count-management-service and count-system.
#include "count_admin.hpp"
#include "management_api.hpp"

namespace count::management {

class ManagementModule {
 public:
  ManagementModule(http::Router& router, core::CountInfoStore& info, core::CountValueStore& values);

 private:
  CountAdmin admin_;
  ManagementApi api_;
};

}  // namespace count::management
