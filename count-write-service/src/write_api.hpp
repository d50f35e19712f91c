#pragma once
// UC-001's HTTP binding: increment, decrement, set and batch writes (docs/API.md, "Write").
// Each handler parses, calls one use case of CountWrites, and serialises its outcome.
#include "count_writes.hpp"
#include "http/router.hpp"

namespace count::write {

struct WriteApiOptions {
  bool strong_read = true;  // also serve GET /api/v1/counts/{id} from the primary
};

class WriteApi {
 public:
  WriteApi(CountWrites& writes, WriteApiOptions options) : writes_(writes), options_(options) {}
  void Register(http::Router& router);

 private:
  http::Response Mutate(http::Request& request, core::MutationKind kind);
  http::Response Batch(http::Request& request);
  http::Response Get(http::Request& request);

  CountWrites& writes_;
  WriteApiOptions options_;
};

}  // namespace count::write
