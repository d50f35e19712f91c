#pragma once
// The API's JSON representation of counters and the request-body rules every endpoint
// shares (docs/API.md, opening and "Errors"): strict integers, problems for malformed or
// invalid bodies.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/count.hpp"
#include "core/problem.hpp"

namespace count::api {

// Parses a request body that must be a JSON object. An empty body is an empty object
// when `empty_ok`. Returns 400 malformed-json or 422 validation-error problems.
std::optional<core::Problem> ParseObject(std::string_view body, bool empty_ok,
                                         boost::json::object& out);

// A JSON integer that fits int64 (not 1.0, not "1", not 2^63).
std::optional<std::int64_t> AsInt64(const boost::json::value& v);

// Reads an optional int64 field; a present field of another type is a problem.
std::optional<core::Problem> OptionalInt64(const boost::json::object& o, std::string_view field,
                                           std::optional<std::int64_t>& out);

// {"id","value","description","minValue","maxValue","createdAt","updatedAt"}
// "a,b,c" → ids, each a valid count id, at most `max`; the problem otherwise. `what` names
// the parameter in the message ("ids", "countIds").
std::optional<core::Problem> ParseIdList(std::string_view list, std::string_view what,
                                         std::size_t max, std::vector<std::string>& ids);

boost::json::object RecordJson(const core::CountRecord& r, boost::json::storage_ptr sp = {});
// {"id","value","updatedAt"}
boost::json::object AppliedJson(const core::Applied& a, boost::json::storage_ptr sp = {});
// Their JSON text, written directly (a GET's or an increment's answer): the same text as
// serialising RecordJson and AppliedJson.
std::string RecordText(const core::CountRecord& r);
std::string AppliedText(const core::Applied& a);

core::Problem MutationProblem(core::MutationError error, std::string_view id);

}  // namespace count::api
