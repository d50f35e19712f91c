#include "core/problem.hpp"

namespace count::core {

Problem MakeProblem(int status, std::string_view kind, std::string_view title, std::string detail) {
  return Problem{status, "/problems/" + std::string(kind), std::string(title), std::move(detail)};
}

Problem BadRequest(std::string d) {
  return MakeProblem(400, "malformed-request", "Malformed request", std::move(d));
}
Problem MalformedJson(std::string d) {
  return MakeProblem(400, "malformed-json", "Malformed JSON", std::move(d));
}
Problem Unauthorized(std::string d) {
  return MakeProblem(401, "unauthorized", "Unauthorized", std::move(d));
}
Problem Forbidden(std::string d) {
  return MakeProblem(403, "forbidden", "Forbidden", std::move(d));
}
Problem NotFound(std::string d) { return MakeProblem(404, "not-found", "Not found", std::move(d)); }
Problem MethodNotAllowed(std::string d) {
  return MakeProblem(405, "method-not-allowed", "Method not allowed", std::move(d));
}
Problem AlreadyExists(std::string d) {
  return MakeProblem(409, "already-exists", "Already exists", std::move(d));
}
Problem PayloadTooLarge(std::string d) {
  return MakeProblem(413, "payload-too-large", "Payload too large", std::move(d));
}
Problem UnsupportedMediaType(std::string d) {
  return MakeProblem(415, "unsupported-media-type", "Unsupported media type", std::move(d));
}
Problem Validation(std::string d) {
  return MakeProblem(422, "validation-error", "Validation error", std::move(d));
}
Problem InvalidCountId(std::string_view id) {
  return MakeProblem(422, "invalid-count-id", "Invalid count id",
                     "a count id is 1-128 characters of [A-Za-z0-9._:-] starting with a letter or "
                     "digit");
}
Problem Overflow(std::string d) {
  return MakeProblem(422, "overflow", "Arithmetic overflow", std::move(d));
}
Problem OutOfBounds(std::string d) {
  return MakeProblem(422, "out-of-bounds", "Value out of bounds", std::move(d));
}
Problem IdempotencyKeyReused(std::string d) {
  return MakeProblem(422, "idempotency-key-reused", "Idempotency key reused", std::move(d));
}
Problem Unavailable(std::string d) {
  return MakeProblem(503, "service-unavailable", "Service unavailable", std::move(d));
}
Problem Internal(std::string d) {
  return MakeProblem(500, "internal-error", "Internal error", std::move(d));
}

}  // namespace count::core
