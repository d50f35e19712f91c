#include "core/problem.hpp"

namespace count::core {

Problem BadRequest(std::string d) { return {Outcome::kMalformedRequest, std::move(d)}; }
Problem MalformedJson(std::string d) { return {Outcome::kMalformedJson, std::move(d)}; }
Problem Unauthorized(std::string d) { return {Outcome::kUnauthorized, std::move(d)}; }
Problem Forbidden(std::string d) { return {Outcome::kForbidden, std::move(d)}; }
Problem NotFound(std::string d) { return {Outcome::kNotFound, std::move(d)}; }
Problem MethodNotAllowed(std::string d) { return {Outcome::kMethodNotAllowed, std::move(d)}; }
Problem AlreadyExists(std::string d) { return {Outcome::kAlreadyExists, std::move(d)}; }
Problem PayloadTooLarge(std::string d) { return {Outcome::kPayloadTooLarge, std::move(d)}; }
Problem HeadersTooLarge(std::string d) { return {Outcome::kHeadersTooLarge, std::move(d)}; }
Problem UnsupportedMediaType(std::string d) {
  return {Outcome::kUnsupportedMediaType, std::move(d)};
}
Problem Validation(std::string d) { return {Outcome::kValidation, std::move(d)}; }
Problem InvalidCountId(std::string_view) {
  return {Outcome::kInvalidCountId,
          "a count id is 1-128 characters of [A-Za-z0-9._:-] starting with a letter or digit"};
}
Problem InvalidPeriod(std::string d) { return {Outcome::kInvalidPeriod, std::move(d)}; }
Problem InsufficientData(std::string d) { return {Outcome::kInsufficientData, std::move(d)}; }
Problem Overflow(std::string d) { return {Outcome::kOverflow, std::move(d)}; }
Problem OutOfBounds(std::string d) { return {Outcome::kOutOfBounds, std::move(d)}; }
Problem ShardedCounter(std::string d) { return {Outcome::kShardedCounter, std::move(d)}; }
Problem IdempotencyKeyReused(std::string d) {
  return {Outcome::kIdempotencyKeyReused, std::move(d)};
}
Problem Unavailable(std::string d) { return {Outcome::kUnavailable, std::move(d)}; }
Problem NotDurable(std::string d) { return {Outcome::kNotDurable, std::move(d)}; }
Problem AppliedInPart(std::string d, std::vector<std::size_t> applied) {
  return {Outcome::kAppliedInPart, std::move(d), std::move(applied)};
}
Problem Internal(std::string d) { return {Outcome::kInternal, std::move(d)}; }

}  // namespace count::core
