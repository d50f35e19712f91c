#pragma once
// UC-001's HTTP binding: increment, decrement, set and batch writes (docs/API.md, "Write").
// Each handler parses, calls one use case of CountWrites, and serialises its outcome. Where
// CountWrites applies on the event loop, the routes are async handlers: parse, apply on the
// loop, answer when the store has; a PUT that also changes the description (PostgreSQL)
// goes to the blocking pool.
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

  struct MutateCall;
  struct BatchCall;

 private:
  http::Response Mutate(http::Request& request, core::MutationKind kind);
  http::Response Batch(http::Request& request);
  http::Response Get(http::Request& request);
  void MutateOnLoop(const http::Router& router, http::Request& request, core::MutationKind kind,
                    http::Respond respond);
  void BatchOnLoop(http::Request& request, http::Respond respond);
  void GetOnLoop(http::Request& request, http::Respond respond);

  CountWrites& writes_;
  WriteApiOptions options_;
};

}  // namespace count::write
