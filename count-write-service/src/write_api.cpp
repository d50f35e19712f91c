#include "write_api.hpp"

#include <boost/json/serialize.hpp>

#include "api/count_json.hpp"
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

}  // namespace

WriteApi::WriteApi(core::CountValueStore& values, core::CountInfoStore& info,
                   WriteApiOptions options)
    : values_(values), info_(info), options_(options) {}

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

std::optional<core::Problem> WriteApi::Apply(const Request& request,
                                             std::span<const core::Mutation> mutations,
                                             core::ApplyResult& result) {
  std::optional<core::IdempotencyKey> key;
  if (auto header = request.Header("Idempotency-Key")) {
    if (header->empty() || header->size() > kMaxIdempotencyKey)
      return core::Validation("Idempotency-Key must be 1 to 255 characters");
    // Scoped per API key; the fingerprint ties the key to this exact request.
    key = core::IdempotencyKey{request.principal->name + ":" + std::string(*header),
                               runtime::Sha256Hex(std::string(http::ToString(request.method)) +
                                                  " " + request.path + "\n" + request.body)};
  }
  result = values_.Apply(mutations, key ? &*key : nullptr, options_.auto_create);
  if (result.status == core::ApplyResult::Status::kKeyConflict)
    return core::IdempotencyKeyReused(
        "this Idempotency-Key was used with a different request in the last 24 hours");
  for (std::size_t i = 0; i < result.created.size(); ++i) {
    if (!result.created[i]) continue;
    const auto& applied = std::get<core::Applied>(result.outcomes[i]);
    info_.Create(
        {applied.id, "", std::nullopt, std::nullopt, applied.updated_at, applied.updated_at});
  }
  return std::nullopt;
}

Response WriteApi::Mutate(Request& request, MutationKind kind) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, kind != MutationKind::kSet, body))
    return Response::Problem(*p);
  core::Mutation m{kind, id, 1};
  if (auto p = ParseOperand(body, kind, m.operand)) return Response::Problem(*p);
  std::optional<std::string> description;
  if (const auto* d = body.if_contains("description"); kind == MutationKind::kSet && d) {
    if (!d->is_string() || d->as_string().size() > core::kMaxDescriptionLength)
      return Response::Problem(
          core::Validation("\"description\" must be a string of at most 1024 characters"));
    description = std::string(d->as_string());
  }

  core::ApplyResult result;
  if (auto p = Apply(request, std::span(&m, 1), result)) return Response::Problem(*p);
  const auto* applied = std::get_if<core::Applied>(&result.outcomes.front());
  if (!applied)
    return Response::Problem(
        api::MutationProblem(std::get<core::MutationError>(result.outcomes.front()), id));

  if (description && result.status == core::ApplyResult::Status::kApplied) {
    if (auto info = info_.Get(id)) {
      info->description = *description;
      info->updated_at = applied->updated_at;
      values_.UpdateInfo(*info);
      info_.Update(*info);
    }
  }
  auto response = Json(api::AppliedJson(*applied));
  if (result.status == core::ApplyResult::Status::kReplayed)
    response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
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
      core::Mutation m{*parsed, ids[i], 1};
      if (auto p = ParseOperand(*op, *parsed, m.operand)) {
        problems[i] = *p;
      } else {
        mutations.push_back(std::move(m));
        index.push_back(i);
      }
    }
  }

  core::ApplyResult result;
  if (!mutations.empty())
    if (auto p = Apply(request, mutations, result)) return Response::Problem(*p);
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
      const auto& p = *problems[i];
      results.push_back(boost::json::object{{"id", ids[i]},
                                            {"status", p.status},
                                            {"type", p.type},
                                            {"title", p.title},
                                            {"detail", p.detail}});
    }
    if (next < index.size() && index[next] == i) ++next;
  }
  auto response = Json({{"results", std::move(results)}});
  if (result.status == core::ApplyResult::Status::kReplayed)
    response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
}

Response WriteApi::Get(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  const auto record = values_.Get(id);
  if (!record) return Response::Problem(core::NotFound("count '" + id + "' does not exist"));
  return Json(api::RecordJson(*record));
}

}  // namespace count::write
