#pragma once
// UC-003's HTTP binding: counter CRUD for administrators (docs/API.md, "Management"). Each
// handler parses, calls one use case of CountAdmin, and serialises its outcome.
#include "count_admin.hpp"
#include "http/router.hpp"

namespace count::management {

class ManagementApi {
 public:
  explicit ManagementApi(CountAdmin& admin) : admin_(admin) {}
  void Register(http::Router& router);

 private:
  http::Response List(http::Request& request);
  http::Response Create(http::Request& request);
  http::Response Get(http::Request& request);
  http::Response Patch(http::Request& request);
  http::Response Delete(http::Request& request);

  CountAdmin& admin_;
};

}  // namespace count::management
