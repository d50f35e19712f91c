#include "management_api.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "api/count_json.hpp"
#include "runtime/auth.hpp"

namespace count::management {
namespace {

using http::Request;
using http::Response;

constexpr std::string_view kBase = "/management/api/v1/counts";
constexpr std::int64_t kDefaultLimit = 50;
constexpr std::int64_t kMaxLimit = 1000;

std::optional<core::Problem> ReadDescription(const boost::json::object& body, std::string& out) {
  const auto* d = body.if_contains("description");
  if (!d) return std::nullopt;
  if (!d->is_string() || d->as_string().size() > core::kMaxDescriptionLength)
    return core::Validation("\"description\" must be a string of at most 1024 characters");
  out = std::string(d->as_string());
  return std::nullopt;
}

std::optional<core::Problem> CheckBounds(const core::CountInfo& info) {
  if (info.min_value && info.max_value && *info.min_value > *info.max_value)
    return core::Validation("minValue must not exceed maxValue");
  return std::nullopt;
}

// The counter as administrators see it: information from CountInfoDB, value from the store.
boost::json::object View(const core::CountInfo& info,
                         const std::optional<core::CountRecord>& value) {
  core::CountRecord r{info.id,        value ? value->value : 0, info.description, info.min_value,
                      info.max_value, info.created_at,          info.updated_at};
  if (value) r.updated_at = std::max(info.updated_at, value->updated_at);
  auto o = api::RecordJson(r);
  if (!value) o["value"] = nullptr;  // the value store lost it: show that, don't invent 0
  return o;
}

}  // namespace

void ManagementApi::Register(http::Router& router) {
  const http::RouteOptions admin{.scope = std::string(runtime::kScopeAdmin)};
  const std::string base(kBase);
  router.Add(
      http::Method::kGet, base, [this](Request& r) { return List(r); }, admin);
  router.Add(
      http::Method::kPost, base, [this](Request& r) { return Create(r); }, admin);
  router.Add(
      http::Method::kGet, base + "/{id}", [this](Request& r) { return Get(r); }, admin);
  router.Add(
      http::Method::kPatch, base + "/{id}", [this](Request& r) { return Patch(r); }, admin);
  router.Add(
      http::Method::kDelete, base + "/{id}", [this](Request& r) { return Delete(r); }, admin);
}

Response ManagementApi::List(Request& request) {
  const std::string prefix(request.Query("prefix").value_or(""));
  const std::string cursor(request.Query("cursor").value_or(""));
  std::int64_t limit = kDefaultLimit;
  if (auto text = request.Query("limit")) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc{} || end != text->data() + text->size() || limit < 1 || limit > kMaxLimit)
      return Response::Problem(core::Validation("limit must be an integer from 1 to 1000"));
  }
  if (prefix.size() > core::kMaxIdLength)
    return Response::Problem(core::Validation("prefix is longer than any count id"));
  if (!cursor.empty() && !core::IsValidCountId(cursor))
    return Response::Problem(core::Validation("cursor is not one this API returned"));

  auto page = info_.List(prefix, static_cast<std::size_t>(limit), cursor);
  std::vector<std::string> ids;
  for (const auto& i : page.items) ids.push_back(i.id);
  const auto values = values_.GetMany(ids);
  boost::json::array items;
  for (std::size_t i = 0; i < page.items.size(); ++i)
    items.push_back(View(page.items[i], values[i]));
  boost::json::object body{{"items", std::move(items)}, {"nextCursor", nullptr}};
  if (page.next_cursor) body["nextCursor"] = *page.next_cursor;
  return Response::Json(200, boost::json::serialize(body));
}

Response ManagementApi::Create(Request& request) {
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, false, body)) return Response::Problem(*p);
  const auto* id = body.if_contains("id");
  if (!id || !id->is_string()) return Response::Problem(core::Validation("\"id\" is required"));
  const auto now = core::Now();
  core::CountInfo info{std::string(id->as_string()), "", std::nullopt, std::nullopt, now, now};
  if (!core::IsValidCountId(info.id)) return Response::Problem(core::InvalidCountId(info.id));
  std::optional<std::int64_t> initial;
  if (auto p = ReadDescription(body, info.description)) return Response::Problem(*p);
  if (auto p = api::OptionalInt64(body, "minValue", info.min_value)) return Response::Problem(*p);
  if (auto p = api::OptionalInt64(body, "maxValue", info.max_value)) return Response::Problem(*p);
  if (auto p = api::OptionalInt64(body, "initialValue", initial)) return Response::Problem(*p);
  if (auto p = CheckBounds(info)) return Response::Problem(*p);
  // Without an initialValue a counter starts at 0, or at the bound nearest to 0.
  const std::int64_t value = initial.value_or(std::clamp<std::int64_t>(
      0, info.min_value.value_or(INT64_MIN), info.max_value.value_or(INT64_MAX)));
  if (!core::WithinBounds(value, info.min_value, info.max_value))
    return Response::Problem(
        core::Validation("initialValue must lie within minValue and maxValue"));

  const auto duplicate = [&] {
    return Response::Problem(core::AlreadyExists("count '" + info.id + "' already exists"));
  };
  if (!info_.Create(info)) return duplicate();
  try {
    if (!values_.Create(info, value)) {
      info_.Delete(info.id);  // the id lives in the value store already (auto-created)
      return duplicate();
    }
  } catch (...) {
    info_.Delete(info.id);  // keep the two stores agreeing when the value store is down
    throw;
  }
  auto response = Response::Json(201, boost::json::serialize(View(info, values_.Get(info.id))));
  response.headers.emplace_back("Location", std::string(kBase) + "/" + info.id);
  return response;
}

Response ManagementApi::Get(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  const auto info = info_.Get(id);
  if (!info) return Response::Problem(core::NotFound("count '" + id + "' does not exist"));
  return Response::Json(200, boost::json::serialize(View(*info, values_.Get(id))));
}

Response ManagementApi::Patch(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, false, body)) return Response::Problem(*p);
  auto info = info_.Get(id);
  if (!info) return Response::Problem(core::NotFound("count '" + id + "' does not exist"));
  if (auto p = ReadDescription(body, info->description)) return Response::Problem(*p);
  // Present and null clears a bound; absent keeps it.
  for (auto [field, bound] :
       {std::pair{"minValue", &info->min_value}, {"maxValue", &info->max_value}}) {
    if (!body.contains(field)) continue;
    bound->reset();
    if (auto p = api::OptionalInt64(body, field, *bound)) return Response::Problem(*p);
  }
  if (auto p = CheckBounds(*info)) return Response::Problem(*p);
  info->updated_at = core::Now();
  switch (values_.UpdateInfo(*info)) {
    case core::CountValueStore::UpdateResult::kValueOutsideBounds:
      return Response::Problem(
          core::OutOfBounds("the current value of '" + id + "' lies outside the new bounds"));
    case core::CountValueStore::UpdateResult::kNotFound:
    case core::CountValueStore::UpdateResult::kUpdated:
      break;
  }
  info_.Update(*info);
  return Response::Json(200, boost::json::serialize(View(*info, values_.Get(id))));
}

Response ManagementApi::Delete(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  const auto purge = request.Query("purgeHistory").value_or("false");
  if (purge != "true" && purge != "false")
    return Response::Problem(core::Validation("purgeHistory must be true or false"));
  const bool had_value = values_.Delete(id);
  const bool had_info = info_.Delete(id);
  if (!had_value && !had_info)
    return Response::Problem(core::NotFound("count '" + id + "' does not exist"));
  return Response::NoContent();
}

}  // namespace count::management
