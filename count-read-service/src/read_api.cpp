#include "read_api.hpp"

#include <boost/json/serialize.hpp>

#include "api/count_json.hpp"
#include "runtime/auth.hpp"

namespace count::read {

using http::Request;
using http::Response;

namespace {

constexpr std::size_t kMaxIds = 100;
using Records = std::vector<std::optional<core::CountRecord>>;

std::optional<Response> ParseId(Request& request, std::string& id) {
  id = std::string(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  return std::nullopt;
}

Response OneAnswer(const std::string& id, const std::optional<core::CountRecord>& record) {
  if (!record) return Response::Problem(core::NotFound("count '" + id + "' does not exist"));
  return Response::Json(200, api::RecordText(*record));
}

std::optional<Response> ParseIds(Request& request, std::vector<std::string>& ids) {
  if (auto p = api::ParseIdList(request.Query("ids").value_or(""), "ids", kMaxIds, ids))
    return Response::Problem(*p);
  return std::nullopt;
}

Response ManyAnswer(const std::vector<std::string>& ids, const Records& records) {
  boost::json::array counts, missing;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (records[i])
      counts.push_back(api::RecordJson(*records[i]));
    else
      missing.push_back(boost::json::string(ids[i]));
  }
  return Response::Json(200, boost::json::serialize(boost::json::object{
                                 {"counts", std::move(counts)}, {"missing", std::move(missing)}}));
}

}  // namespace

void ReadApi::Register(http::Router& router) {
  const http::RouteOptions read{.scope = std::string(runtime::kScopeRead)};
  if (loop_values_) {
    router.AddAsync(
        http::Method::kGet, "/api/v1/counts/{id}",
        [this](Request& r, http::Respond respond) { GetOnLoop(r, std::move(respond)); }, read);
    router.AddAsync(
        http::Method::kGet, "/api/v1/counts",
        [this](Request& r, http::Respond respond) { GetManyOnLoop(r, std::move(respond)); }, read);
    return;
  }
  router.Add(
      http::Method::kGet, "/api/v1/counts/{id}", [this](Request& r) { return Get(r); }, read);
  router.Add(
      http::Method::kGet, "/api/v1/counts", [this](Request& r) { return GetMany(r); }, read);
}

Response ReadApi::Get(Request& request) {
  std::string id;
  if (auto problem = ParseId(request, id)) return std::move(*problem);
  return OneAnswer(id, values_.Get(id));
}

void ReadApi::GetOnLoop(Request& request, http::Respond respond) {
  std::string id;
  if (auto problem = ParseId(request, id)) return respond(std::move(*problem));
  loop_values_->Get(id, [id, &request, respond = std::move(respond)](
                            std::exception_ptr error, std::optional<core::CountRecord> record) {
    respond(error ? http::ErrorResponse(request, error) : OneAnswer(id, record));
  });
}

Response ReadApi::GetMany(Request& request) {
  std::vector<std::string> ids;
  if (auto problem = ParseIds(request, ids)) return std::move(*problem);
  return ManyAnswer(ids, values_.GetMany(ids));
}

void ReadApi::GetManyOnLoop(Request& request, http::Respond respond) {
  auto ids = std::make_shared<std::vector<std::string>>();
  if (auto problem = ParseIds(request, *ids)) return respond(std::move(*problem));
  loop_values_->GetMany(*ids, [ids, &request, respond = std::move(respond)](
                                  std::exception_ptr error, Records records) {
    respond(error ? http::ErrorResponse(request, error) : ManyAnswer(*ids, records));
  });
}

}  // namespace count::read
