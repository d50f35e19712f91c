#pragma once
// UC-003: counter CRUD for administrators (SPEC §4 Management).
#include "core/ports.hpp"
#include "http/router.hpp"

namespace count::management {

class ManagementApi {
 public:
  ManagementApi(core::CountInfoStore& info, core::CountValueStore& values)
      : info_(info), values_(values) {}
  void Register(http::Router& router);

 private:
  http::Response List(http::Request& request);
  http::Response Create(http::Request& request);
  http::Response Get(http::Request& request);
  http::Response Patch(http::Request& request);
  http::Response Delete(http::Request& request);

  core::CountInfoStore& info_;
  core::CountValueStore& values_;
};

}  // namespace count::management
