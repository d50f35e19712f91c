#include "dashboard_api.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <charconv>
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

// A dashboard with its version as the ETag, so a later PUT can name it in If-Match.
Response WithVersion(int status, const core::Dashboard& d) {
  auto response = Response::Json(status, boost::json::serialize(api::DashboardJson(d)));
  response.headers.emplace_back("ETag", "\"" + std::to_string(core::VersionOf(d)) + "\"");
  return response;
}

// If-Match of a PUT: absent or "*" → no check (nullopt in `version`); one ETag as this API
// writes it ("123", or W/"123" from a cache that weakened it) → that version; else a problem.
std::optional<core::Problem> ReadIfMatch(const Request& request,
                                         std::optional<std::int64_t>& version) {
  auto header = request.Header("If-Match");
  if (!header || *header == "*") return std::nullopt;
  std::string_view tag = *header;
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  std::int64_t n = 0;
  const bool quoted = tag.size() > 2 && tag.front() == '"' && tag.back() == '"';
  const auto digits = quoted ? tag.substr(1, tag.size() - 2) : std::string_view{};
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (!quoted || ec != std::errc{} || end != digits.data() + digits.size())
    return core::BadRequest(
        "If-Match must be one ETag of this dashboard as a GET returned it, e.g. "
        "\"1767225600000\"");
  version = n;
  return std::nullopt;
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
  auto response = WithVersion(201, d);
  response.headers.emplace_back("Location", std::string(kBase) + "/" + d.id);
  return response;
}

Response DashboardApi::Get(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidDashboardId(id));
  const auto d = dashboards_.Get(id);
  if (!d) return NotFound(id);
  return WithVersion(200, *d);
}

Response DashboardApi::Put(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidDashboardId(id));
  std::optional<std::int64_t> if_version;
  if (auto p = ReadIfMatch(request, if_version)) return Response::Problem(*p);
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
  if (if_version && *if_version != core::VersionOf(*existing))
    return Response::Problem(core::EditConflict(id, *if_version, core::VersionOf(*existing)));
  if (auto p = Check(d)) return Response::Problem(*p);
  d.created_at = existing->created_at;
  d.updated_at = core::UpdatedAtAfter(*existing, core::Now());
  switch (dashboards_.Update(d, if_version)) {
    case core::UpdateOutcome::kUpdated:
      return WithVersion(200, d);
    case core::UpdateOutcome::kNotFound:
      return NotFound(id);             // deleted meanwhile
    case core::UpdateOutcome::kStale:  // saved by another request meanwhile
      break;
  }
  const auto now = dashboards_.Get(id);
  return Response::Problem(
      core::EditConflict(id, if_version.value_or(0), now ? core::VersionOf(*now) : 0));
}

Response DashboardApi::Delete(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidDashboardId(id));
  if (!dashboards_.Delete(id)) return NotFound(id);
  return Response::NoContent();
}

Response DashboardApi::GetSummary(Request&) {
  constexpr std::string_view kKey = "dashboard-summary";
  if (auto* cache = summary_cache_.cache)
    if (auto body = cache->Get(kKey)) return Response::Json(200, std::move(*body));
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
  auto text = boost::json::serialize(body);
  if (auto* cache = summary_cache_.cache) cache->Put(kKey, text, summary_cache_.ttl);
  return Response::Json(200, std::move(text));
}

}  // namespace count::dashboard
