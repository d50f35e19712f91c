#include "write_api.hpp"

#include <boost/json/monotonic_resource.hpp>
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

// A single write, parsed.
struct WriteApi::MutateCall {
  core::Mutation mutation;
  std::optional<std::string> description;
  std::optional<core::IdempotencyKey> key;
  const core::IdempotencyKey* Key() const { return key ? &*key : nullptr; }
};

// A batch, parsed: only the valid operations reach the store, each on its own.
struct WriteApi::BatchCall {
  std::vector<std::optional<core::Problem>> problems;  // per operation of the request
  std::vector<std::string> ids;
  std::vector<core::Mutation> mutations;
  std::vector<std::size_t> index;  // mutation → position in the request
  std::optional<core::IdempotencyKey> key;
};

namespace {

std::optional<Response> ParseMutate(Request& request, MutationKind kind,
                                    WriteApi::MutateCall& call) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  unsigned char buffer[512];  // the body's tree, on the stack
  boost::json::monotonic_resource stack(buffer, sizeof buffer);
  boost::json::object body(&stack);
  if (auto p = api::ParseObject(request.body, kind != MutationKind::kSet, body))
    return Response::Problem(*p);
  call.mutation = core::Mutation{kind, id, 1, request.trace};
  if (auto p = ParseOperand(body, kind, call.mutation.operand)) return Response::Problem(*p);
  if (const auto* d = body.if_contains("description"); kind == MutationKind::kSet && d) {
    if (!d->is_string() || d->as_string().size() > core::kMaxDescriptionLength)
      return Response::Problem(
          core::Validation("\"description\" must be a string of at most 1024 characters"));
    call.description = std::string(d->as_string());
  }
  if (auto p = ReadIdempotencyKey(request, call.key)) return Response::Problem(*p);
  return std::nullopt;
}

Response MutateAnswer(const WriteApi::MutateCall& call, const WriteOutcome& out) {
  if (out.problem) return Response::Problem(*out.problem);
  const auto& outcome = out.result.outcomes.front();
  if (const auto* e = std::get_if<core::MutationError>(&outcome))
    return Response::Problem(api::MutationProblem(*e, call.mutation.id));
  return WithReplayHeader(Response::Json(200, api::AppliedText(std::get<core::Applied>(outcome))),
                          out.result);
}

std::optional<Response> ParseBatch(Request& request, WriteApi::BatchCall& call) {
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, false, body)) return Response::Problem(*p);
  const auto* ops = body.if_contains("operations");
  if (!ops || !ops->is_array() || ops->as_array().empty() || ops->as_array().size() > kMaxBatch)
    return Response::Problem(
        core::Validation("\"operations\" must be an array of 1 to 1000 operations"));

  const auto& list = ops->as_array();
  call.problems.resize(list.size());
  call.ids.resize(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto* op = list[i].if_object();
    const auto* id = op ? op->if_contains("id") : nullptr;
    const auto* kind = op ? op->if_contains("op") : nullptr;
    if (id && id->is_string()) call.ids[i] = std::string(id->as_string());
    std::optional<MutationKind> parsed;
    if (kind && kind->is_string()) parsed = core::ParseMutationKind(kind->as_string());
    if (!op || !id || !id->is_string()) {
      call.problems[i] = core::Validation("each operation needs a string \"id\"");
    } else if (!core::IsValidCountId(call.ids[i])) {
      call.problems[i] = core::InvalidCountId(call.ids[i]);
    } else if (!parsed) {
      call.problems[i] = core::Validation("\"op\" must be increment, decrement or set");
    } else {
      core::Mutation m{*parsed, call.ids[i], 1, request.trace};
      if (auto p = ParseOperand(*op, *parsed, m.operand)) {
        call.problems[i] = *p;
      } else {
        call.mutations.push_back(std::move(m));
        call.index.push_back(i);
      }
    }
  }
  if (auto p = ReadIdempotencyKey(request, call.key)) return Response::Problem(*p);
  return std::nullopt;
}

Response BatchAnswer(WriteApi::BatchCall& call, const WriteOutcome& out) {
  if (out.problem) return Response::Problem(*out.problem);
  const auto& result = out.result;
  auto& problems = call.problems;
  const auto& index = call.index;
  for (std::size_t k = 0; k < index.size(); ++k)
    if (const auto* e = std::get_if<core::MutationError>(&result.outcomes[k]))
      problems[index[k]] = api::MutationProblem(*e, call.ids[index[k]]);

  boost::json::array results;
  std::size_t next = 0;
  for (std::size_t i = 0; i < problems.size(); ++i) {
    if (next < index.size() && index[next] == i && !problems[i]) {
      auto o = api::AppliedJson(std::get<core::Applied>(result.outcomes[next]));
      o["status"] = 200;
      results.push_back(std::move(o));
    } else {
      auto o = http::ProblemJson(*problems[i]);
      o.emplace("id", call.ids[i]);
      results.push_back(std::move(o));
    }
    if (next < index.size() && index[next] == i) ++next;
  }
  return WithReplayHeader(Json({{"results", std::move(results)}}), result);
}

std::optional<Response> ParseId(Request& request, std::string& id) {
  id = std::string(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  return std::nullopt;
}

Response RecordAnswer(const std::string& id, const std::optional<core::CountRecord>& record) {
  if (!record) return Response::Problem(core::NotFound("count '" + id + "' does not exist"));
  return Response::Json(200, api::RecordText(*record));
}

}  // namespace

void WriteApi::Register(http::Router& router) {
  const http::RouteOptions write{.scope = std::string(runtime::kScopeWrite)};
  const http::RouteOptions batch{.scope = std::string(runtime::kScopeWrite),
                                 .body_limit = kBatchBodyLimit};
  const http::RouteOptions read{.scope = std::string(runtime::kScopeRead)};
  const std::pair<http::Method, const char*> kMutations[] = {
      {http::Method::kPost, "/api/v1/counts/{id}/increment"},
      {http::Method::kPost, "/api/v1/counts/{id}/decrement"},
      {http::Method::kPut, "/api/v1/counts/{id}"}};
  const MutationKind kKinds[] = {MutationKind::kIncrement, MutationKind::kDecrement,
                                 MutationKind::kSet};
  if (writes_.AppliesOnLoop()) {
    for (std::size_t i = 0; i < 3; ++i)
      router.AddAsync(
          kMutations[i].first, kMutations[i].second,
          [this, &router, kind = kKinds[i]](Request& r, http::Respond respond) {
            MutateOnLoop(router, r, kind, std::move(respond));
          },
          write);
    router.AddAsync(
        http::Method::kPost, "/api/v1/counts:batch",
        [this](Request& r, http::Respond respond) { BatchOnLoop(r, std::move(respond)); }, batch);
    if (options_.strong_read)
      router.AddAsync(
          http::Method::kGet, "/api/v1/counts/{id}",
          [this](Request& r, http::Respond respond) { GetOnLoop(r, std::move(respond)); }, read);
    return;
  }
  for (std::size_t i = 0; i < 3; ++i)
    router.Add(
        kMutations[i].first, kMutations[i].second,
        [this, kind = kKinds[i]](Request& r) { return Mutate(r, kind); }, write);
  router.Add(
      http::Method::kPost, "/api/v1/counts:batch", [this](Request& r) { return Batch(r); }, batch);
  if (options_.strong_read)
    router.Add(
        http::Method::kGet, "/api/v1/counts/{id}", [this](Request& r) { return Get(r); }, read);
}

Response WriteApi::Mutate(Request& request, MutationKind kind) {
  MutateCall call;
  if (auto problem = ParseMutate(request, kind, call)) return std::move(*problem);
  if (call.description)
    return MutateAnswer(
        call, writes_.SetDescribed(call.mutation, std::move(*call.description), call.Key()));
  return MutateAnswer(call, writes_.Apply(std::span(&call.mutation, 1), call.Key()));
}

void WriteApi::MutateOnLoop(const http::Router& router, Request& request, MutationKind kind,
                            http::Respond respond) {
  auto call = std::make_shared<MutateCall>();
  if (auto problem = ParseMutate(request, kind, *call)) return respond(std::move(*problem));
  if (call->description) {  // PostgreSQL too: off the loop
    return router.RunBlocking([this, &request, kind, respond = std::move(respond)] {
      Response r;
      try {
        r = Mutate(request, kind);
      } catch (...) {
        r = http::ErrorResponse(request, std::current_exception());
      }
      respond(std::move(r));
    });
  }
  writes_.ApplyOnLoop(
      std::span(&call->mutation, 1), call->Key(),
      [call, &request, respond = std::move(respond)](std::exception_ptr error, WriteOutcome out) {
        respond(error ? http::ErrorResponse(request, error) : MutateAnswer(*call, out));
      });
}

Response WriteApi::Batch(Request& request) {
  BatchCall call;
  if (auto problem = ParseBatch(request, call)) return std::move(*problem);
  WriteOutcome out;
  if (!call.mutations.empty()) out = writes_.Apply(call.mutations, call.key ? &*call.key : nullptr);
  return BatchAnswer(call, out);
}

void WriteApi::BatchOnLoop(Request& request, http::Respond respond) {
  auto call = std::make_shared<BatchCall>();
  if (auto problem = ParseBatch(request, *call)) return respond(std::move(*problem));
  if (call->mutations.empty()) return respond(BatchAnswer(*call, {}));
  writes_.ApplyOnLoop(
      call->mutations, call->key ? &*call->key : nullptr,
      [call, &request, respond = std::move(respond)](std::exception_ptr error, WriteOutcome out) {
        respond(error ? http::ErrorResponse(request, error) : BatchAnswer(*call, out));
      });
}

Response WriteApi::Get(Request& request) {
  std::string id;
  if (auto problem = ParseId(request, id)) return std::move(*problem);
  return RecordAnswer(id, writes_.Get(id));
}

void WriteApi::GetOnLoop(Request& request, http::Respond respond) {
  std::string id;
  if (auto problem = ParseId(request, id)) return respond(std::move(*problem));
  writes_.GetOnLoop(id, [id, &request, respond = std::move(respond)](
                            std::exception_ptr error, std::optional<core::CountRecord> record) {
    respond(error ? http::ErrorResponse(request, error) : RecordAnswer(id, record));
  });
}

}  // namespace count::write
