#pragma once
// What a client can be told went wrong, as the domain names it. `common/core` knows no
// transport: the HTTP layer maps each `Outcome` to a status and an RFC 9457 problem type in
// one table (common/http/problem_types.cpp), so a new outcome is one enum value here and one
// row there.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace count::core {

enum class Outcome : std::uint8_t {
  kMalformedRequest,      // the request is not one the API can read (target, framing)
  kMalformedJson,         // the body is not JSON
  kUnauthorized,          // no valid API key
  kForbidden,             // the key lacks the scope
  kNotFound,              // no such resource (or route)
  kMethodNotAllowed,      // the route exists, not for this method
  kAlreadyExists,         // create of an id that exists
  kEditConflict,          // a change based on a version that is no longer current
  kPayloadTooLarge,       // the body exceeds the route's limit
  kHeadersTooLarge,       // the header exceeds the server's limit
  kUnsupportedMediaType,  // a body that is not application/json
  kValidation,            // a field breaks a rule
  kInvalidCountId,        // a malformed count id
  kInvalidDashboardId,    // a malformed dashboard id
  kUnknownCount,          // a reference to counters that do not exist
  kInvalidPeriod,         // an analysis period that cannot be served
  kInsufficientData,      // not enough history for an analysis
  kOverflow,              // the result leaves int64
  kOutOfBounds,           // the result leaves the counter's bounds
  kShardedCounter,        // an operation a sharded (hot) counter does not offer
  kIdempotencyKeyReused,  // an Idempotency-Key reused for another request
  kUnavailable,           // a store or the bus cannot be reached; nothing was changed
  kNotDurable,            // applied, but the bus has not acknowledged its event (WRITE_ACK=kafka)
  kAppliedInPart,         // a request split over shards, some parts applied, a store failed
  kInternal,              // a bug; see the log
};

struct Problem {
  Outcome outcome = Outcome::kInternal;
  std::string detail;  // for people; may quote the request
  // A request that was carried out in part (core::PartlyApplied): the indexes of the
  // operations that were; served as the problem's "applied" member.
  std::vector<std::size_t> applied;
};

Problem BadRequest(std::string detail);
Problem MalformedJson(std::string detail);
Problem Unauthorized(std::string detail);
Problem Forbidden(std::string detail);
Problem NotFound(std::string detail);
Problem MethodNotAllowed(std::string detail);
Problem AlreadyExists(std::string detail);
Problem PayloadTooLarge(std::string detail);
Problem HeadersTooLarge(std::string detail);
Problem UnsupportedMediaType(std::string detail);
Problem Validation(std::string detail);
Problem InvalidCountId(std::string_view id);
Problem InvalidPeriod(std::string detail);
Problem InsufficientData(std::string detail);
Problem Overflow(std::string detail);
Problem OutOfBounds(std::string detail);
Problem ShardedCounter(std::string detail);
Problem IdempotencyKeyReused(std::string detail);
Problem Unavailable(std::string detail);
Problem NotDurable(std::string detail);
Problem AppliedInPart(std::string detail, std::vector<std::size_t> applied);
Problem Internal(std::string detail);

}  // namespace count::core
