// The identifier and token rules of core and api, against independent reference versions:
// count ids (core::IsValidCountId, also the rule for a dashboard's counters), id lists
// (api::ParseIdList), RFC 3339 timestamps (core::ParseTimestamp ↔ FormatTimestamp) and the
// enumerations read from requests and events (mutation kinds, units, event types).
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/count_json.hpp"
#include "core/count.hpp"
#include "core/event.hpp"
#include "core/history.hpp"
#include "harness/api_harness.hpp"
#include "http/problem_types.hpp"

namespace count::fuzz {
namespace {

// The count id rule as docs/API.md writes it: 1-128 characters, [A-Za-z0-9][A-Za-z0-9._:-]*.
bool ReferenceValidId(std::string_view id) {
  static const std::string kFirst =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  static const std::string kRest = kFirst + "._:-";
  if (id.empty() || id.size() > 128) return false;
  if (kFirst.find(id.front()) == std::string::npos) return false;
  return id.find_first_not_of(kRest) == std::string_view::npos;
}

void CheckId(std::string_view text) {
  if (core::IsValidCountId(text) != ReferenceValidId(text))
    Fail("IsValidCountId disagrees with the id rule of docs/API.md", text);
}

void CheckIdList(std::string_view text, std::size_t max) {
  std::vector<std::string> ids;
  const auto problem = api::ParseIdList(text, "ids", max, ids);
  // Reference: comma-separated, each valid, 1..max of them.
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto comma = text.find(',', start);
    parts.push_back(text.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  bool valid = !text.empty() && parts.size() <= max;
  for (auto p : parts) valid = valid && ReferenceValidId(p);
  if (valid == problem.has_value()) Fail("ParseIdList disagrees with the reference", text);
  if (problem) {
    if (http::StatusOf(*problem) != 422)
      Fail("ParseIdList answers " + http::TypeUri(*problem), text);
    return;
  }
  std::string joined;
  for (const auto& id : ids) joined += (joined.empty() ? "" : ",") + id;
  if (joined != text || ids.size() > max) Fail("ParseIdList changed the list", text);
}

void CheckTimestamp(std::string_view text) {
  const auto t = core::ParseTimestamp(text);
  if (!t) return;
  const auto formatted = core::FormatTimestamp(*t);
  const auto year = static_cast<int>(
      std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(*t)}.year());
  if (year < 0 || year > 9999) return;  // beyond four digits: not RFC 3339 any more
  const auto back = core::ParseTimestamp(formatted);
  if (!back || *back != *t)
    Fail("a timestamp does not round-trip", std::string(text) + " → " + formatted);
}

void CheckEnumerations(std::string_view text) {
  if (const auto kind = core::ParseMutationKind(text); kind && core::ToString(*kind) != text)
    Fail("ParseMutationKind", text);
  if (const auto unit = core::ParseUnit(text); unit && core::ToString(*unit) != text)
    Fail("ParseUnit", text);
  if (const auto type = core::ParseEventType(text); type && core::ToString(*type) != text)
    Fail("ParseEventType", text);
}

}  // namespace
}  // namespace count::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace count;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::CheckId(text);
  fuzz::CheckIdList(text, size > 0 ? 1 + data[0] % 100 : 100);
  fuzz::CheckIdList(text, 100);
  fuzz::CheckTimestamp(text);
  fuzz::CheckEnumerations(text);
  return 0;
}
