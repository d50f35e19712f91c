#pragma once
// UC-002: single and batch reads (docs/API.md, "Read"), served from the Redis replica. With the
// value store on the event loops the routes are async handlers (no blocked thread); without
// it (SQLite, standalone) they run on the blocking pool.
#include "core/ports.hpp"
#include "http/router.hpp"

namespace count::read {

class ReadApi {
 public:
  ReadApi(core::CountValueStore& values, core::AsyncCountValueStore* loop_values)
      : values_(values), loop_values_(loop_values) {}
  void Register(http::Router& router);

 private:
  http::Response Get(http::Request& request);
  http::Response GetMany(http::Request& request);
  void GetOnLoop(http::Request& request, http::Respond respond);
  void GetManyOnLoop(http::Request& request, http::Respond respond);
  core::CountValueStore& values_;
  core::AsyncCountValueStore* loop_values_;
};

}  // namespace count::read
