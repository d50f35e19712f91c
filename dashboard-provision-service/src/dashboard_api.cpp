#include "dashboard_api.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <limits>

#include "api/count_json.hpp"
#include "api/dashboard_json.hpp"
#include "runtime/auth.hpp"

namespace count::dashboard {
namespace {

using http::Request;
using http::Response;

constexpr std::string_view kBase = "/dashboard/api/v1/dashboards";
constexpr std::string_view kSummary = "/dashboard/api/v1/summary";

Response NotFound(const std::string& id) {
  return Response::Problem(core::NotFound("dashboard '" + id + "' does not exist"));
}

// An int64 when the sum fits, else the nearest double: JSON numbers have no fixed width.
boost::json::value Number(__int128 v) {
  if (v >= std::numeric_limits<std::int64_t>::min() &&
      v <= std::numeric_limits<std::int64_t>::max())
    return static_cast<std::int64_t>(v);
  return static_cast<double>(v);
}

}  // namespace

Summary Summarize(core::CountInfoStore& counts, core::CountValueStore& values,
                  std::size_t page_size) {
  Summary s;
  std::string cursor;
  std::vector<std::string> ids;
  while (true) {
    const core::CountPage page = counts.List("", page_size, cursor);
    ids.clear();
    for (const auto& info : page.items) ids.push_back(info.id);
    s.total_counters += ids.size();
    for (const auto& record : values.GetMany(ids)) {
      if (!record) continue;
      ++s.counters_with_value;
      s.total_value += record->value;
      s.last_updated_at =
          std::max(s.last_updated_at.value_or(record->updated_at), record->updated_at);
    }
    if (!page.next_cursor) return s;
    cursor = *page.next_cursor;
  }
}

void DashboardApi::Register(http::Router& router) {
  const http::RouteOptions admin{.scope = std::string(runtime::kScopeAdmin)};
  const std::string base(kBase);
  router.Add(
      http::Method::kGet, base, [this](Request& r) { return List(r); }, admin);
  router.Add(
      http::Method::kPost, base, [this](Request& r) { return Create(r); }, admin);
  router.Add(
      http::Method::kGet, base + "/{id}", [this](Request& r) { return Get(r); }, admin);
  router.Add(
      http::Method::kPut, base + "/{id}", [this](Request& r) { return Put(r); }, admin);
  router.Add(
      http::Method::kDelete, base + "/{id}", [this](Request& r) { return Delete(r); }, admin);
  router.Add(
      http::Method::kGet, std::string(kSummary), [this](Request& r) { return GetSummary(r); },
      admin);
}

std::optional<core::Problem> DashboardApi::Check(const core::Dashboard& d) {
  return core::CheckDashboard(
      d, [this](const std::string& id) { return counts_.Get(id).has_value(); });
}

Response DashboardApi::List(Request&) {
  boost::json::array items;
  for (const auto& d : dashboards_.List()) items.push_back(api::DashboardJson(d));
  return Response::Json(200,
                        boost::json::serialize(boost::json::object{{"items", std::move(items)}}));
}

Response DashboardApi::Create(Request& request) {
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, false, body)) return Response::Problem(*p);
  core::Dashboard d;
  if (auto p = api::ReadDashboard(body, d)) return Response::Problem(*p);
  if (!body.contains("id")) d.id = "d-" + runtime::RandomHex(8);  // the server names it
  if (auto p = Check(d)) return Response::Problem(*p);
  d.created_at = d.updated_at = core::Now();
  if (!dashboards_.Create(d))
    return Response::Problem(core::AlreadyExists("dashboard '" + d.id + "' already exists"));
  auto response = Response::Json(201, boost::json::serialize(api::DashboardJson(d)));
  response.headers.emplace_back("Location", std::string(kBase) + "/" + d.id);
  return response;
}

Response DashboardApi::Get(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidDashboardId(id));
  const auto d = dashboards_.Get(id);
  if (!d) return NotFound(id);
  return Response::Json(200, boost::json::serialize(api::DashboardJson(*d)));
}

Response DashboardApi::Put(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidDashboardId(id));
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, false, body)) return Response::Problem(*p);
  core::Dashboard d;
  if (auto p = api::ReadDashboard(body, d)) return Response::Problem(*p);
  if (body.contains("id") && d.id != id)
    return Response::Problem(core::Validation("\"id\" must be the id in the path, '" + id +
                                              "' (a dashboard cannot be renamed by id)"));
  d.id = id;
  const auto existing = dashboards_.Get(id);
  if (!existing) return NotFound(id);
  if (auto p = Check(d)) return Response::Problem(*p);
  d.created_at = existing->created_at;
  d.updated_at = std::max(core::Now(), existing->created_at);
  if (!dashboards_.Update(d)) return NotFound(id);  // deleted meanwhile
  return Response::Json(200, boost::json::serialize(api::DashboardJson(d)));
}

Response DashboardApi::Delete(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidDashboardId(id));
  if (!dashboards_.Delete(id)) return NotFound(id);
  return Response::NoContent();
}

Response DashboardApi::GetSummary(Request&) {
  const Summary s = Summarize(counts_, values_);
  const std::size_t dashboards = dashboards_.List().size();
  boost::json::object body{{"totalCounters", s.total_counters},
                           {"totalValue", Number(s.total_value)},
                           {"averageValue", nullptr},
                           {"lastUpdatedAt", nullptr},
                           {"totalDashboards", dashboards}};
  if (s.counters_with_value > 0)
    body["averageValue"] =
        static_cast<double>(static_cast<long double>(s.total_value) / s.counters_with_value);
  if (s.last_updated_at) body["lastUpdatedAt"] = core::FormatTimestamp(*s.last_updated_at);
  return Response::Json(200, boost::json::serialize(body));
}

}  // namespace count::dashboard
