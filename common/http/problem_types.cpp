#include "http/problem_types.hpp"

#include <array>
#include <cstddef>

#include "http/message.hpp"

namespace count::http {
namespace {

using core::Outcome;

struct Row {
  Outcome outcome;
  ProblemType type;
};

// In the order of core::Outcome; the static_assert below and TypeOf keep them aligned.
constexpr std::array kTable{
    Row{Outcome::kMalformedRequest, {400, "malformed-request", "Malformed request"}},
    Row{Outcome::kMalformedJson, {400, "malformed-json", "Malformed JSON"}},
    Row{Outcome::kUnauthorized, {401, "unauthorized", "Unauthorized"}},
    Row{Outcome::kForbidden, {403, "forbidden", "Forbidden"}},
    Row{Outcome::kNotFound, {404, "not-found", "Not found"}},
    Row{Outcome::kMethodNotAllowed, {405, "method-not-allowed", "Method not allowed"}},
    Row{Outcome::kAlreadyExists, {409, "already-exists", "Already exists"}},
    Row{Outcome::kEditConflict, {409, "edit-conflict", "Edit conflict"}},
    Row{Outcome::kPayloadTooLarge, {413, "payload-too-large", "Payload too large"}},
    Row{Outcome::kHeadersTooLarge, {431, "headers-too-large", "Request header fields too large"}},
    Row{Outcome::kUnsupportedMediaType, {415, "unsupported-media-type", "Unsupported media type"}},
    Row{Outcome::kValidation, {422, "validation-error", "Validation error"}},
    Row{Outcome::kInvalidCountId, {422, "invalid-count-id", "Invalid count id"}},
    Row{Outcome::kInvalidDashboardId, {422, "invalid-dashboard-id", "Invalid dashboard id"}},
    Row{Outcome::kUnknownCount, {422, "unknown-count", "Unknown count"}},
    Row{Outcome::kInvalidPeriod, {422, "invalid-period", "Invalid period"}},
    Row{Outcome::kInsufficientData, {422, "insufficient-data", "Insufficient data"}},
    Row{Outcome::kOverflow, {422, "overflow", "Arithmetic overflow"}},
    Row{Outcome::kOutOfBounds, {422, "out-of-bounds", "Value out of bounds"}},
    Row{Outcome::kShardedCounter, {409, "sharded-counter", "Not offered by a sharded counter"}},
    Row{Outcome::kIdempotencyKeyReused, {422, "idempotency-key-reused", "Idempotency key reused"}},
    Row{Outcome::kUnavailable, {503, "service-unavailable", "Service unavailable"}},
    Row{Outcome::kNotDurable, {503, "not-durable", "Applied, not yet durable"}},
    Row{Outcome::kAppliedInPart, {503, "applied-in-part", "Applied in part"}},
    Row{Outcome::kInternal, {500, "internal-error", "Internal error"}},
};

constexpr bool Aligned() {
  for (std::size_t i = 0; i < kTable.size(); ++i)
    if (static_cast<std::size_t>(kTable[i].outcome) != i) return false;
  return static_cast<std::size_t>(Outcome::kInternal) + 1 == kTable.size();
}
static_assert(Aligned(), "kTable must list every core::Outcome once, in enum order");

}  // namespace

const ProblemType& TypeOf(Outcome outcome) {
  return kTable[static_cast<std::size_t>(outcome)].type;
}
int StatusOf(const core::Problem& p) { return TypeOf(p.outcome).status; }
std::string TypeUri(const core::Problem& p) {
  return "/problems/" + std::string(TypeOf(p.outcome).slug);
}

boost::json::object ProblemJson(const core::Problem& p) {
  const auto& type = TypeOf(p.outcome);
  boost::json::object out{{"type", TypeUri(p)},
                          {"title", type.title},
                          {"status", type.status},
                          {"detail", ValidUtf8(p.detail)}};  // it may quote what the client sent
  if (!p.applied.empty()) {
    boost::json::array applied;
    for (const auto i : p.applied) applied.push_back(i);
    out["applied"] = std::move(applied);
  }
  return out;
}

}  // namespace count::http
