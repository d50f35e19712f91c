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

// An optional boolean field; a problem when present and not a boolean.
std::optional<core::Problem> OptionalBool(const boost::json::object& body, std::string_view field,
                                          std::optional<bool>& out) {
  const auto* v = body.if_contains(field);
  if (!v) return std::nullopt;
  if (!v->is_bool())
    return core::Validation("\"" + std::string(field) + "\" must be true or false");
  out = v->as_bool();
  return std::nullopt;
}

// The counter as administrators see it: information from CountInfoDB, value from the store.
boost::json::object ViewJson(const CounterView& view) {
  const auto& [info, value] = view;
  core::CountRecord r{info.id,        value ? value->value : 0, info.description, info.min_value,
                      info.max_value, info.created_at,          info.updated_at,  info.sharded};
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

  const auto page = admin_.List(prefix, static_cast<std::size_t>(limit), cursor);
  boost::json::array items;
  for (const auto& view : page.items) items.push_back(ViewJson(view));
  boost::json::object body{{"items", std::move(items)}, {"nextCursor", nullptr}};
  if (page.next_cursor) body["nextCursor"] = *page.next_cursor;
  return Response::Json(200, boost::json::serialize(body));
}

Response ManagementApi::Create(Request& request) {
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, false, body)) return Response::Problem(*p);
  const auto* id = body.if_contains("id");
  if (!id || !id->is_string()) return Response::Problem(core::Validation("\"id\" is required"));
  NewCounter counter{{std::string(id->as_string())}, std::nullopt};
  auto& info = counter.info;
  if (!core::IsValidCountId(info.id)) return Response::Problem(core::InvalidCountId(info.id));
  if (auto p = ReadDescription(body, info.description)) return Response::Problem(*p);
  if (auto p = api::OptionalInt64(body, "minValue", info.min_value)) return Response::Problem(*p);
  if (auto p = api::OptionalInt64(body, "maxValue", info.max_value)) return Response::Problem(*p);
  if (auto p = api::OptionalInt64(body, "initialValue", counter.initial_value))
    return Response::Problem(*p);
  std::optional<bool> sharded;
  if (auto p = OptionalBool(body, "sharded", sharded)) return Response::Problem(*p);
  info.sharded = sharded.value_or(false);

  const auto created = admin_.Create(std::move(counter));
  if (created.problem) return Response::Problem(*created.problem);
  auto response = Response::Json(201, boost::json::serialize(ViewJson(*created.view)));
  response.headers.emplace_back("Location", std::string(kBase) + "/" + created.view->info.id);
  return response;
}

Response ManagementApi::Get(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  const auto view = admin_.Get(id);
  if (!view) return Response::Problem(core::NotFound("count '" + id + "' does not exist"));
  return Response::Json(200, boost::json::serialize(ViewJson(*view)));
}

Response ManagementApi::Patch(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, false, body)) return Response::Problem(*p);
  InfoPatch patch;
  if (body.contains("description")) {
    std::string description;
    if (auto p = ReadDescription(body, description)) return Response::Problem(*p);
    patch.description = std::move(description);
  }
  // Present and null clears a bound; absent keeps it.
  for (auto [field, bound] :
       {std::pair{"minValue", &patch.min_value}, {"maxValue", &patch.max_value}}) {
    if (!body.contains(field)) continue;
    std::optional<std::int64_t> value;
    if (auto p = api::OptionalInt64(body, field, value)) return Response::Problem(*p);
    *bound = value;
  }
  if (auto p = OptionalBool(body, "sharded", patch.sharded)) return Response::Problem(*p);
  const auto changed = admin_.Update(id, patch);
  if (changed.problem) return Response::Problem(*changed.problem);
  return Response::Json(200, boost::json::serialize(ViewJson(*changed.view)));
}

Response ManagementApi::Delete(Request& request) {
  const std::string id(request.Param("id"));
  if (!core::IsValidCountId(id)) return Response::Problem(core::InvalidCountId(id));
  const auto purge = request.Query("purgeHistory").value_or("false");
  if (purge != "true" && purge != "false")
    return Response::Problem(core::Validation("purgeHistory must be true or false"));
  if (auto p = admin_.Delete(id, purge == "true")) return Response::Problem(*p);
  return Response::NoContent();
}

}  // namespace count::management
