// JSON (and CSV) request bodies → the write, management and analysis handlers that turn
// them into commands, over in-memory stores; and Kafka event payloads → core::EventFromJson.
//
// Input: requests separated by the byte 0xFF (never in UTF-8, so bodies stay free to be
// anything else). A request's first byte picks the endpoint and the counter in its path,
// the rest is its body; one input is a little session (create, write, import, analyse).
// Invariants: every answer keeps CheckResponse (no 500: no exception escaped a handler);
// a parsed object re-serialises to a document that parses to the same value; an event that
// parses round-trips through ToJson.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "api/count_json.hpp"
#include "core/event.hpp"
#include "harness/api_harness.hpp"
#include "http/problem_types.hpp"

namespace count::fuzz {
namespace {

struct Endpoint {
  http::Method method;
  std::string_view path;  // {id} is replaced by the request's counter
  std::string_view content_type = "application/json";
  std::string_view idempotency_key = {};
};

constexpr Endpoint kEndpoints[] = {
    {http::Method::kPost, "/api/v1/counts/{id}/increment"},
    {http::Method::kPost, "/api/v1/counts/{id}/decrement"},
    {http::Method::kPut, "/api/v1/counts/{id}"},
    {http::Method::kPost, "/api/v1/counts:batch"},
    {http::Method::kPost, "/management/api/v1/counts"},
    {http::Method::kPatch, "/management/api/v1/counts/{id}"},
    {http::Method::kPost, "/analysis/api/v1/trend"},
    {http::Method::kPost, "/analysis/api/v1/comparison"},
    {http::Method::kPost, "/analysis/api/v1/prediction"},
    {http::Method::kPost, "/analysis/api/v1/history:import"},
    {http::Method::kPost, "/analysis/api/v1/history:import", "text/csv"},
    {http::Method::kPost, "/api/v1/counts/{id}/increment", "application/json", "retry-1"},
    {http::Method::kPost, "/api/v1/counts:batch", "application/json", "retry-1"},
    {http::Method::kGet, "event"},  // not HTTP: a Kafka message for core::EventFromJson
};
constexpr std::string_view kIds[] = {"page.views", "a", "x:y-z_1.2"};
constexpr std::size_t kEndpointCount = std::size(kEndpoints);

void CheckEvent(std::string_view json) {
  const auto event = core::EventFromJson(json);
  if (!event) return;
  const std::string again = core::ToJson(*event);
  const auto back = core::EventFromJson(again);
  if (!back || back->event_id != event->event_id || back->type != event->type ||
      back->count_id != event->count_id || back->delta != event->delta ||
      back->value != event->value || back->timestamp != event->timestamp ||
      back->source != event->source)
    Fail("an event does not round-trip through ToJson", std::string(json) + "\n" + again);
}

// Equal, but for doubles within a relative 1e-12: Boost.JSON 1.81 does not round every long
// decimal to the nearest double, so a re-parsed number may differ in its last bits.
bool Same(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) {
    const double x = a.get_double(), y = b.get_double();
    return x == y || std::abs(x - y) <= 1e-12 * std::max(std::abs(x), std::abs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    if (a.as_object().size() != b.as_object().size()) return false;
    for (const auto& [k, v] : a.as_object()) {
      const auto* w = b.as_object().if_contains(k);
      if (!w || !Same(v, *w)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.as_array().size() != b.as_array().size()) return false;
    for (std::size_t i = 0; i < a.as_array().size(); ++i)
      if (!Same(a.as_array()[i], b.as_array()[i])) return false;
    return true;
  }
  return a == b;
}

void CheckObject(std::string_view body) {
  boost::json::object o;
  if (auto p = api::ParseObject(body, true, o)) {
    const int status = http::StatusOf(*p);
    if (status != 400 && status != 422) Fail("ParseObject answers " + http::TypeUri(*p), body);
    return;
  }
  const auto text = boost::json::serialize(o);
  boost::system::error_code ec;
  const auto back = boost::json::parse(text, ec);
  if (ec || !Same(back, o))
    Fail("a parsed body does not survive serialisation", std::string(body) + "\n" + text);
  for (const auto& [key, value] : o) {
    if (const auto n = api::AsInt64(value)) {
      if (!value.is_int64() && !value.is_uint64()) Fail("AsInt64 took a non-integer", text);
      if (value.is_uint64() && value.get_uint64() != static_cast<std::uint64_t>(*n))
        Fail("AsInt64 changed a value", text);
    }
  }
}

}  // namespace
}  // namespace count::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace count;
  fuzz::ApiHarness api;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < 16 && !input.empty(); ++n) {
    const auto end = input.find('\xff');
    std::string_view record = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    if (record.empty()) continue;
    const auto selector = static_cast<unsigned char>(record.front());
    const auto& endpoint = fuzz::kEndpoints[selector % fuzz::kEndpointCount];
    const auto body = record.substr(1);
    if (endpoint.path == "event") {
      fuzz::CheckEvent(body);
      continue;
    }
    fuzz::CheckObject(body);

    http::Request request;
    request.method = endpoint.method;
    request.path = std::string(endpoint.path);
    if (const auto at = request.path.find("{id}"); at != std::string::npos)
      request.path.replace(at, 4, fuzz::kIds[selector / fuzz::kEndpointCount % 3]);
    request.target = request.path;
    request.body = std::string(body);
    request.request_id = "fuzz";
    request.headers = {{"Authorization", "Bearer admin-key"},
                       {"Content-Type", std::string(endpoint.content_type)}};
    if (!endpoint.idempotency_key.empty())
      request.headers.emplace_back("Idempotency-Key", std::string(endpoint.idempotency_key));
    api.Handle(request);
  }
  return 0;
}
