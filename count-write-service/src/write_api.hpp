#pragma once
// UC-001: increment, decrement, set and batch writes (SPEC §4 Write).
#include "core/ports.hpp"
#include "http/router.hpp"

namespace count::write {

struct WriteApiOptions {
  bool auto_create = false;  // COUNT_AUTO_CREATE: a write may create an unknown counter
  bool strong_read = true;   // also serve GET /api/v1/counts/{id} from the primary
};

class WriteApi {
 public:
  // `info` is the system of record (CountInfoDB) for descriptions and auto-created counters.
  WriteApi(core::CountValueStore& values, core::CountInfoStore& info, WriteApiOptions options);
  void Register(http::Router& router);

 private:
  http::Response Mutate(http::Request& request, core::MutationKind kind);
  http::Response Batch(http::Request& request);
  http::Response Get(http::Request& request);

  // Applies valid mutations with the request's Idempotency-Key; records auto-created ids.
  std::optional<core::Problem> Apply(const http::Request& request,
                                     std::span<const core::Mutation> mutations,
                                     core::ApplyResult& result);

  core::CountValueStore& values_;
  core::CountInfoStore& info_;
  WriteApiOptions options_;
};

}  // namespace count::write
