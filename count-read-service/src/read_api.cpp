#include "read_api.hpp"

#include <boost/json/serialize.hpp>

#include "api/count_json.hpp"
#include "runtime/auth.hpp"

namespace count::read {

using http::Request;
using http::Response;

constexpr std::size_t kMaxIds = 100;

void ReadApi::Register(http::Router& router) {
  const http::RouteOptions read{.scope = std::string(runtime::kScopeRead)};
  router.Add(
      http::Method::kGet, "/api/v1/counts/{id}", [this](Request& r) { return Get(r); }, read);
  router.Add(
      http::Method::kGet, "/api/v1/counts", [this](Request& r) { return GetMany(r); }, read);
}

Response ReadApi::Get(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  const auto record = values_.Get(id);
  if (!record) return Response::Problem(core::NotFound("count '" + id + "' does not exist"));
  return Response::Json(200, boost::json::serialize(api::RecordJson(*record)));
}

Response ReadApi::GetMany(Request& request) {
  std::vector<std::string> ids;
  if (auto p = api::ParseIdList(request.Query("ids").value_or(""), "ids", kMaxIds, ids))
    return Response::Problem(*p);
  const auto records = values_.GetMany(ids);
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

}  // namespace count::read
