#pragma once
// RFC 9457 problem details. Every error a client can see is one of these, with a
// stable `type` per kind so clients can branch on it.
#include <string>
#include <string_view>

namespace count::core {

struct Problem {
  int status = 500;
  std::string type;  // relative URI, e.g. "/problems/not-found"
  std::string title;
  std::string detail;
};

Problem MakeProblem(int status, std::string_view kind, std::string_view title, std::string detail);

// The problem kinds of the API (SPEC §4, §5).
Problem BadRequest(std::string detail);            // 400 malformed-request
Problem MalformedJson(std::string detail);         // 400 malformed-json
Problem Unauthorized(std::string detail);          // 401 unauthorized
Problem Forbidden(std::string detail);             // 403 forbidden
Problem NotFound(std::string detail);              // 404 not-found
Problem MethodNotAllowed(std::string detail);      // 405 method-not-allowed
Problem AlreadyExists(std::string detail);         // 409 already-exists
Problem PayloadTooLarge(std::string detail);       // 413 payload-too-large
Problem UnsupportedMediaType(std::string detail);  // 415 unsupported-media-type
Problem Validation(std::string detail);            // 422 validation-error
Problem InvalidCountId(std::string_view id);       // 422 invalid-count-id
Problem Overflow(std::string detail);              // 422 overflow
Problem OutOfBounds(std::string detail);           // 422 out-of-bounds
Problem IdempotencyKeyReused(std::string detail);  // 422 idempotency-key-reused
Problem Unavailable(std::string detail);           // 503 service-unavailable
Problem Internal(std::string detail);              // 500 internal-error

}  // namespace count::core
