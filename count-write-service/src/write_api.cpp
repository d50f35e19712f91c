#include "write_api.hpp"

#include <boost/json/serialize.hpp>

#include "api/count_json.hpp"
#include "http/problem_types.hpp"
#include "runtime/auth.hpp"

namespace count::write {
namespace {

using core::MutationKind;
using http::Request;
using http::Response;

constexpr std::size_t kMaxBatch = 1000;
constexpr std::size_t kMaxIdempotencyKey = 255;
constexpr std::size_t kBatchBodyLimit = 1024 * 1024;

Response Json(const boost::json::object& o) {
  return Response::Json(200, boost::json::serialize(o));
}

// Parses one operation of a mutation: the amount (>= 1) or the value (set).
std::optional<core::Problem> ParseOperand(const boost::json::object& body, MutationKind kind,
                                          std::int64_t& operand) {
  const bool is_set = kind == MutationKind::kSet;
  const char* field = is_set ? "value" : "amount";
  const auto* v = body.if_contains(field);
  if (!v) {
    if (is_set) return core::Validation("\"value\" is required");
    operand = 1;
    return std::nullopt;
  }
  const auto n = api::AsInt64(*v);
  if (!n) return core::Validation(std::string("\"") + field + "\" must be an integer within int64");
  if (!is_set && *n < 1) return core::Validation("\"amount\" must be at least 1");
  operand = *n;
  return std::nullopt;
}

// The request's Idempotency-Key as the store records it: scoped per API key, with a
// fingerprint that ties the key to this exact request.
std::optional<core::Problem> ReadIdempotencyKey(const Request& request,
                                                std::optional<core::IdempotencyKey>& key) {
  const auto header = request.Header("Idempotency-Key");
  if (!header) return std::nullopt;
  if (header->empty() || header->size() > kMaxIdempotencyKey)
    return core::Validation("Idempotency-Key must be 1 to 255 characters");
  key = core::IdempotencyKey{request.principal->name + ":" + std::string(*header),
                             runtime::Sha256Hex(std::string(http::ToString(request.method)) + " " +
                                                request.path + "\n" + request.body)};
  return std::nullopt;
}

Response WithReplayHeader(Response response, const core::ApplyResult& result) {
  if (result.status == core::ApplyResult::Status::kReplayed)
    response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
}

}  // namespace

void WriteApi::Register(http::Router& router) {
  const http::RouteOptions write{.scope = std::string(runtime::kScopeWrite)};
  router.Add(
      http::Method::kPost, "/api/v1/counts/{id}/increment",
      [this](Request& r) { return Mutate(r, MutationKind::kIncrement); }, write);
  router.Add(
      http::Method::kPost, "/api/v1/counts/{id}/decrement",
      [this](Request& r) { return Mutate(r, MutationKind::kDecrement); }, write);
  router.Add(
      http::Method::kPut, "/api/v1/counts/{id}",
      [this](Request& r) { return Mutate(r, MutationKind::kSet); }, write);
  router.Add(http::Method::kPost, "/api/v1/counts:batch", [this](Request& r) { return Batch(r); },
             {.scope = std::string(runtime::kScopeWrite), .body_limit = kBatchBodyLimit});
  if (options_.strong_read)
    router.Add(http::Method::kGet, "/api/v1/counts/{id}", [this](Request& r) { return Get(r); },
               {.scope = std::string(runtime::kScopeRead)});
}

Response WriteApi::Mutate(Request& request, MutationKind kind) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, kind != MutationKind::kSet, body))
    return Response::Problem(*p);
  core::Mutation m{kind, id, 1, request.trace};
  if (auto p = ParseOperand(body, kind, m.operand)) return Response::Problem(*p);
  std::optional<std::string> description;
  if (const auto* d = body.if_contains("description"); kind == MutationKind::kSet && d) {
    if (!d->is_string() || d->as_string().size() > core::kMaxDescriptionLength)
      return Response::Problem(
          core::Validation("\"description\" must be a string of at most 1024 characters"));
    description = std::string(d->as_string());
  }

  std::optional<core::IdempotencyKey> key;
  if (auto p = ReadIdempotencyKey(request, key)) return Response::Problem(*p);

  const auto* k = key ? &*key : nullptr;
  auto out = description ? writes_.SetDescribed(m, std::move(*description), k)
                         : writes_.Apply(std::span(&m, 1), k);
  if (out.problem) return Response::Problem(*out.problem);
  const auto& outcome = out.result.outcomes.front();
  if (const auto* e = std::get_if<core::MutationError>(&outcome))
    return Response::Problem(api::MutationProblem(*e, id));
  return WithReplayHeader(Json(api::AppliedJson(std::get<core::Applied>(outcome))), out.result);
}

Response WriteApi::Batch(Request& request) {
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, false, body)) return Response::Problem(*p);
  const auto* ops = body.if_contains("operations");
  if (!ops || !ops->is_array() || ops->as_array().empty() || ops->as_array().size() > kMaxBatch)
    return Response::Problem(
        core::Validation("\"operations\" must be an array of 1 to 1000 operations"));

  // Validate every operation; only the valid ones reach the store, each on its own.
  const auto& list = ops->as_array();
  std::vector<std::optional<core::Problem>> problems(list.size());
  std::vector<std::string> ids(list.size());
  std::vector<core::Mutation> mutations;
  std::vector<std::size_t> index;  // mutation → position in the request
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto* op = list[i].if_object();
    const auto* id = op ? op->if_contains("id") : nullptr;
    const auto* kind = op ? op->if_contains("op") : nullptr;
    if (id && id->is_string()) ids[i] = std::string(id->as_string());
    std::optional<MutationKind> parsed;
    if (kind && kind->is_string()) parsed = core::ParseMutationKind(kind->as_string());
    if (!op || !id || !id->is_string()) {
      problems[i] = core::Validation("each operation needs a string \"id\"");
    } else if (!core::IsValidCountId(ids[i])) {
      problems[i] = core::InvalidCountId(ids[i]);
    } else if (!parsed) {
      problems[i] = core::Validation("\"op\" must be increment, decrement or set");
    } else {
      core::Mutation m{*parsed, ids[i], 1, request.trace};
      if (auto p = ParseOperand(*op, *parsed, m.operand)) {
        problems[i] = *p;
      } else {
        mutations.push_back(std::move(m));
        index.push_back(i);
      }
    }
  }

  std::optional<core::IdempotencyKey> key;
  if (auto p = ReadIdempotencyKey(request, key)) return Response::Problem(*p);
  WriteOutcome out;
  if (!mutations.empty()) out = writes_.Apply(mutations, key ? &*key : nullptr);
  if (out.problem) return Response::Problem(*out.problem);
  const auto& result = out.result;
  for (std::size_t k = 0; k < index.size(); ++k)
    if (const auto* e = std::get_if<core::MutationError>(&result.outcomes[k]))
      problems[index[k]] = api::MutationProblem(*e, ids[index[k]]);

  boost::json::array results;
  std::size_t next = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (next < index.size() && index[next] == i && !problems[i]) {
      auto o = api::AppliedJson(std::get<core::Applied>(result.outcomes[next]));
      o["status"] = 200;
      results.push_back(std::move(o));
    } else {
      auto o = http::ProblemJson(*problems[i]);
      o.emplace("id", ids[i]);
      results.push_back(std::move(o));
    }
    if (next < index.size() && index[next] == i) ++next;
  }
  return WithReplayHeader(Json({{"results", std::move(results)}}), result);
}

Response WriteApi::Get(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  const auto record = writes_.Get(id);
  if (!record) return Response::Problem(core::NotFound("count '" + id + "' does not exist"));
  return Json(api::RecordJson(*record));
}

}  // namespace count::write
