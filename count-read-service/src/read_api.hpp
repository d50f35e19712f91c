#pragma once
// UC-002: single and batch reads (SPEC §4 Read), served from the Redis replica.
#include "core/ports.hpp"
#include "http/router.hpp"

namespace count::read {

class ReadApi {
 public:
  explicit ReadApi(core::CountValueStore& values) : values_(values) {}
  void Register(http::Router& router);

 private:
  http::Response Get(http::Request& request);
  http::Response GetMany(http::Request& request);
  core::CountValueStore& values_;
};

}  // namespace count::read
