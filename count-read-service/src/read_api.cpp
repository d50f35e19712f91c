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
  const auto list = request.Query("ids");
  if (!list || list->empty())
    return Response::Problem(core::Validation("ids is required: ?ids=a,b,c (at most 100)"));
  std::vector<std::string> ids;
  std::string_view rest = *list;
  while (true) {
    const auto comma = rest.find(',');
    ids.emplace_back(rest.substr(0, comma));
    if (!core::IsValidCountId(ids.back()))
      return Response::Problem(core::InvalidCountId(ids.back()));
    if (ids.size() > kMaxIds)
      return Response::Problem(core::Validation("at most 100 ids per request"));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
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
