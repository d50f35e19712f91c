#include "api/count_json.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <iterator>

#include <fmt/compile.h>

namespace count::api {
namespace {

// Boost.JSON reads a number too large for a double (1e400) as infinity, which no JSON text
// can carry back out; such a body is refused like any other malformed JSON.
bool AllFinite(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_:
      return std::isfinite(v.get_double());
    case boost::json::kind::array:
      return std::all_of(v.get_array().begin(), v.get_array().end(), AllFinite);
    case boost::json::kind::object:
      return std::all_of(v.get_object().begin(), v.get_object().end(),
                         [](const auto& kv) { return AllFinite(kv.value()); });
    default:
      return true;
  }
}

}  // namespace

std::optional<core::Problem> ParseObject(std::string_view body, bool empty_ok,
                                         boost::json::object& out) {
  if (body.empty()) {
    if (empty_ok) return std::nullopt;
    return core::Validation("a JSON object body is required");
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec, out.storage());
  if (ec) return core::MalformedJson("the body is not valid JSON: " + ec.message());
  if (!AllFinite(v)) return core::MalformedJson("the body holds a number beyond a double's range");
  if (!v.is_object()) return core::Validation("the body must be a JSON object");
  out = std::move(v.as_object());
  return std::nullopt;
}

std::optional<std::int64_t> AsInt64(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.get_uint64());
  return std::nullopt;
}

std::optional<core::Problem> OptionalInt64(const boost::json::object& o, std::string_view field,
                                           std::optional<std::int64_t>& out) {
  const auto* v = o.if_contains(field);
  if (!v || v->is_null()) return std::nullopt;
  out = AsInt64(*v);
  if (!out) return core::Validation(std::string(field) + " must be an integer within int64");
  return std::nullopt;
}

namespace {
boost::json::value OptionalNumber(const std::optional<std::int64_t>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}
}  // namespace

std::optional<core::Problem> ParseIdList(std::string_view list, std::string_view what,
                                         std::size_t max, std::vector<std::string>& ids) {
  const std::string usage = std::string(what) + " is required: ?" + std::string(what) +
                            "=a,b,c (at most " + std::to_string(max) + ")";
  if (list.empty()) return core::Validation(usage);
  ids.clear();
  while (true) {
    const auto comma = list.find(',');
    ids.emplace_back(list.substr(0, comma));
    if (!core::IsValidCountId(ids.back())) return core::InvalidCountId(ids.back());
    if (ids.size() > max) return core::Validation(usage);
    if (comma == std::string_view::npos) return std::nullopt;
    list.remove_prefix(comma + 1);
  }
}

boost::json::object RecordJson(const core::CountRecord& r, boost::json::storage_ptr sp) {
  boost::json::object o{{{"id", r.id},
                         {"value", r.value},
                         {"description", r.description},
                         {"minValue", OptionalNumber(r.min_value)},
                         {"maxValue", OptionalNumber(r.max_value)},
                         {"createdAt", core::FormatTimestamp(r.created_at)},
                         {"updatedAt", core::FormatTimestamp(r.updated_at)}},
                        std::move(sp)};
  if (r.sharded) o["sharded"] = true;  // only then: a counter's usual form stays as it was
  return o;
}

boost::json::object AppliedJson(const core::Applied& a, boost::json::storage_ptr sp) {
  return {{{"id", a.id}, {"value", a.value}, {"updatedAt", core::FormatTimestamp(a.updated_at)}},
          std::move(sp)};
}

namespace {

// `text` as a JSON string, appended: as it is when no byte of it needs escaping (a count id
// always, a description nearly always), else as Boost.JSON's serializer escapes it.
void AppendString(std::string& out, std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';  // printable ASCII; char may be signed
  });
  if (!plain) {
    out += boost::json::serialize(boost::json::string_view(text.data(), text.size()));
    return;
  }
  out += '"';
  out += text;
  out += '"';
}

void AppendOptional(std::string& out, const std::optional<std::int64_t>& v) {
  if (v)
    fmt::format_to(std::back_inserter(out), FMT_COMPILE("{}"), *v);
  else
    out += "null";
}

}  // namespace

// Written straight into the text, in RecordJson's and AppliedJson's order and form (a test
// holds them equal): every GET and increment answers one, and building and serialising the
// tree cost 5 % of count-read-service's CPU at its GET peak (perf, 2026-12-03).
std::string RecordText(const core::CountRecord& r) {
  std::string out;
  out.reserve(160 + r.id.size() + r.description.size());
  out += "{\"id\":";
  AppendString(out, r.id);
  fmt::format_to(std::back_inserter(out), FMT_COMPILE(",\"value\":{},\"description\":"), r.value);
  AppendString(out, r.description);
  out += ",\"minValue\":";
  AppendOptional(out, r.min_value);
  out += ",\"maxValue\":";
  AppendOptional(out, r.max_value);
  out += ",\"createdAt\":\"";
  core::AppendTimestamp(out, r.created_at);
  out += "\",\"updatedAt\":\"";
  core::AppendTimestamp(out, r.updated_at);
  out += r.sharded ? "\",\"sharded\":true}" : "\"}";
  return out;
}

std::string AppliedText(const core::Applied& a) {
  std::string out;
  out.reserve(64 + a.id.size());
  out += "{\"id\":";
  AppendString(out, a.id);
  fmt::format_to(std::back_inserter(out), FMT_COMPILE(",\"value\":{},\"updatedAt\":\""), a.value);
  core::AppendTimestamp(out, a.updated_at);
  out += "\"}";
  return out;
}

core::Problem MutationProblem(core::MutationError error, std::string_view id) {
  const std::string name(id);
  switch (error) {
    case core::MutationError::kNotFound:
      return core::NotFound("count '" + name + "' does not exist; create it first");
    case core::MutationError::kOverflow:
      return core::Overflow("the result for '" + name + "' would leave the signed 64-bit range");
    case core::MutationError::kBelowMin:
      return core::OutOfBounds("the result for '" + name + "' would fall below its minValue");
    case core::MutationError::kAboveMax:
      return core::OutOfBounds("the result for '" + name + "' would exceed its maxValue");
    case core::MutationError::kSharded:
      return core::ShardedCounter("'" + name +
                                  "' is a sharded counter (\"sharded\": true), which takes "
                                  "increments and decrements only: it has no single value to set");
  }
  return core::Internal("unknown mutation error");
}

}  // namespace count::api
