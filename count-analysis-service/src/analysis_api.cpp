#include "analysis_api.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <set>

#include "analysis.hpp"
#include "api/count_json.hpp"
#include "runtime/auth.hpp"

namespace count::analysis {
namespace {

using http::Request;
using http::Response;

constexpr std::string_view kBase = "/analysis/api/v1";
constexpr std::size_t kMaxCounters = 50;
constexpr std::int64_t kDefaultHorizon = 10;
constexpr std::int64_t kMaxHorizon = 1000;
constexpr std::size_t kImportBodyLimit = 8 << 20;
constexpr std::string_view kCsvHeader = "countId,timestamp,value";

using core::InsufficientData;
using core::InvalidPeriod;

// The longest period a unit may cover: bounds the work and the size of an answer.
std::chrono::days MaxPeriod(core::Unit unit) {
  switch (unit) {
    case core::Unit::kMinute:
      return std::chrono::days(366);
    case core::Unit::kHour:
      return std::chrono::days(3'660);
    default:
      return std::chrono::days(36'600);
  }
}

// The most buckets one answer may hold, over all its counters (a year of minutes is 525,600).
constexpr std::int64_t kMaxBuckets = 1'100'000;

// What every analysis request asks: counters, a period, a unit (and a horizon).
struct Query {
  std::vector<std::string> ids;
  core::Timestamp from{}, to{};
  core::Unit unit = core::Unit::kHour;
  std::int64_t horizon = kDefaultHorizon;
};

std::optional<core::Problem> ReadIds(std::vector<std::string> ids, std::size_t min, Query& q) {
  if (ids.size() < min || ids.size() > kMaxCounters)
    return core::Validation("give " + std::to_string(min) + " to " + std::to_string(kMaxCounters) +
                            " count ids");
  std::set<std::string_view> seen;
  for (const auto& id : ids) {
    if (!core::IsValidCountId(id)) return core::InvalidCountId(id);
    if (!seen.insert(id).second) return core::Validation("count id '" + id + "' is repeated");
  }
  q.ids = std::move(ids);
  return std::nullopt;
}

std::optional<core::Problem> ReadPeriod(std::optional<std::string_view> from,
                                        std::optional<std::string_view> to,
                                        std::optional<std::string_view> unit, Query& q) {
  if (unit) {
    const auto parsed = core::ParseUnit(*unit);
    if (!parsed) return core::Validation("unit must be minute, hour, day, week or month");
    q.unit = *parsed;
  }
  const auto f = from ? core::ParseTimestamp(*from) : std::nullopt;
  const auto t = to ? core::ParseTimestamp(*to) : std::nullopt;
  if (!f || !t) return InvalidPeriod("from and to must be RFC 3339 timestamps");
  if (*f >= *t) return InvalidPeriod("from must be before to");
  if (*t - *f > MaxPeriod(q.unit))
    return InvalidPeriod("a period of " + std::string(core::ToString(q.unit)) +
                         "s may span at most " + std::to_string(MaxPeriod(q.unit).count()) +
                         " days");
  q.from = *f;
  q.to = *t;
  return std::nullopt;
}

// A bucket's length; months as 28 days, so that counting with it gives an upper bound.
std::chrono::milliseconds ShortestBucket(core::Unit unit) {
  using namespace std::chrono;
  switch (unit) {
    case core::Unit::kMinute:
      return minutes(1);
    case core::Unit::kHour:
      return hours(1);
    case core::Unit::kDay:
      return days(1);
    case core::Unit::kWeek:
      return weeks(1);
    case core::Unit::kMonth:
      return days(28);
  }
  return days(1);
}

// Bounds the size of an answer that lists buckets: counters × buckets in the period.
std::optional<core::Problem> CheckSize(const Query& q) {
  const auto bucket = ShortestBucket(q.unit);
  const std::int64_t buckets = (q.to - q.from + bucket - std::chrono::milliseconds(1)) / bucket *
                               static_cast<std::int64_t>(q.ids.size());
  if (buckets <= kMaxBuckets) return std::nullopt;
  return core::Validation("the request spans up to " + std::to_string(buckets) +
                          " buckets; at most " + std::to_string(kMaxBuckets) +
                          " fit one answer: ask for fewer counters, a shorter period or a "
                          "longer unit");
}

// A JSON string field that may be absent; a present field of another type is `bad`.
std::optional<core::Problem> OptionalString(const boost::json::object& o, std::string_view field,
                                            const core::Problem& bad,
                                            std::optional<std::string_view>& out) {
  const auto* v = o.if_contains(field);
  if (!v) return std::nullopt;
  if (!v->is_string()) return bad;
  out = std::string_view(v->as_string());
  return std::nullopt;
}

// {"countIds","from","to","unit","horizon"?}
std::optional<core::Problem> ReadBody(const Request& request, std::size_t min_ids, Query& q) {
  boost::json::object body;
  if (auto p = api::ParseObject(request.body, false, body)) return p;
  const auto* ids = body.if_contains("countIds");
  if (!ids || !ids->is_array()) return core::Validation("countIds must be an array of count ids");
  std::vector<std::string> list;
  for (const auto& id : ids->as_array()) {
    if (!id.is_string()) return core::Validation("countIds must be an array of count ids");
    list.emplace_back(id.as_string());
  }
  if (auto p = ReadIds(std::move(list), min_ids, q)) return p;
  const auto not_text = InvalidPeriod("from and to must be RFC 3339 timestamps");
  std::optional<std::string_view> from, to, unit;
  if (auto p = OptionalString(body, "from", not_text, from)) return p;
  if (auto p = OptionalString(body, "to", not_text, to)) return p;
  if (auto p = OptionalString(body, "unit", core::Validation("unit must be a string"), unit))
    return p;
  if (auto p = ReadPeriod(from, to, unit, q)) return p;
  std::optional<std::int64_t> horizon;
  if (auto p = api::OptionalInt64(body, "horizon", horizon)) return p;
  if (horizon && (*horizon < 1 || *horizon > kMaxHorizon))
    return core::Validation("horizon must be from 1 to " + std::to_string(kMaxHorizon));
  q.horizon = horizon.value_or(kDefaultHorizon);
  return std::nullopt;
}

// An exact integer where JSON allows one (int64, uint64), else the nearest double.
boost::json::value Integer(long double v) {
  if (v >= -0x1p63L && v < 0x1p63L) return static_cast<std::int64_t>(v);
  if (v >= 0 && v < 0x1p64L) return static_cast<std::uint64_t>(v);
  return static_cast<double>(v);
}

boost::json::value Number(const std::optional<long double>& v) {
  if (!v) return nullptr;
  return static_cast<double>(*v);
}

// Buckets and points are written straight into the one body of the answer: a year of
// minutes is 525,600 of them (25 MB of JSON), and a JSON node per value, snprintf per
// timestamp or a copy of the text per nesting level would cost more than reading them.

// Writes RFC 3339 UTC timestamps with milliseconds (core::FormatTimestamp's format), fast
// for times in order: the date is formatted once per day.
class TimestampWriter {
 public:
  static constexpr std::size_t kMaxSize = 32;  // FormatTimestamp's longest, any year

  // Writes at `at`, which has room for kMaxSize bytes; returns the end.
  char* Write(char* at, core::Timestamp t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    if (day != day_) {
      day_ = day;
      const year_month_day ymd{day};
      const int year = static_cast<int>(ymd.year());
      four_digit_year_ = year >= 0 && year <= 9999;
      if (four_digit_year_) {
        Put(0, 4, year);
        Put(5, 2, static_cast<unsigned>(ymd.month()));
        Put(8, 2, static_cast<unsigned>(ymd.day()));
      }
    }
    if (!four_digit_year_) {  // beyond four digits: the general formatter
      const std::string text = core::FormatTimestamp(t);
      return std::copy_n(text.data(), std::min(text.size(), kMaxSize), at);
    }
    const auto ms = (t - day).count();  // milliseconds into the day
    Put(11, 2, ms / 3'600'000);
    Put(14, 2, ms / 60'000 % 60);
    Put(17, 2, ms / 1'000 % 60);
    Put(20, 3, ms % 1'000);
    return std::copy_n(text_, sizeof text_ - 1, at);
  }
  void Append(std::string& out, core::Timestamp t) {
    char text[kMaxSize];
    out.append(text, Write(text, t));
  }

 private:
  void Put(int at, int digits, long long v) {
    for (int i = at + digits - 1; i >= at; --i, v /= 10) text_[i] = static_cast<char>('0' + v % 10);
  }
  char text_[25] = "0000-00-00T00:00:00.000Z";
  std::chrono::sys_days day_ = std::chrono::sys_days::max();
  bool four_digit_year_ = false;
};

char* Write(char* at, std::string_view text) { return std::copy(text.begin(), text.end(), at); }

void AppendInt(std::string& out, std::int64_t v) {
  char text[24];
  const auto end = std::to_chars(text, text + sizeof text, v).ptr;
  out.append(text, end);
}

// Room for `more` bytes, growing geometrically: many counters append one after another.
void Reserve(std::string& out, std::size_t more) {
  if (out.size() + more > out.capacity())
    out.reserve(std::max(out.size() + more, 2 * out.capacity()));
}

// [{"t","last","sum","min","max"}, ...]
void AppendBuckets(std::string& out, const std::vector<core::Bucket>& buckets) {
  Reserve(out, buckets.size() * 80 + 2);
  TimestampWriter timestamps;
  out.append("[");
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const auto& b = buckets[i];
    out.append(i > 0 ? ",{\"t\":\"" : "{\"t\":\"");
    timestamps.Append(out, b.start);
    out.append("\",\"last\":");
    AppendInt(out, b.last);
    out.append(",\"sum\":");
    AppendInt(out, b.sum_delta);
    out.append(",\"min\":");
    AppendInt(out, b.min);
    out.append(",\"max\":");
    AppendInt(out, b.max);
    out.append("}");
  }
  out.append("]");
}

// [{"t","value"}, ...]: the answer of a trend by minute over a year is 525,600 of them, so
// they are written into room made once rather than appended piece by piece.
void AppendPoints(std::string& out, const std::vector<Point>& points) {
  constexpr std::size_t kMaxPoint = 8 + TimestampWriter::kMaxSize + 11 + 20 + 1;
  const std::size_t start = out.size();
  Reserve(out, points.size() * kMaxPoint + 2);
  out.resize(start + points.size() * kMaxPoint + 2);
  TimestampWriter timestamps;
  char* at = out.data() + start;
  *at++ = '[';
  for (std::size_t i = 0; i < points.size(); ++i) {
    at = Write(at, i > 0 ? ",{\"t\":\"" : "{\"t\":\"");
    at = timestamps.Write(at, points[i].t);
    at = Write(at, "\",\"value\":");
    at = std::to_chars(at, at + 20, points[i].value).ptr;
    *at++ = '}';
  }
  *at++ = ']';
  out.resize(static_cast<std::size_t>(at - out.data()));
}

// Appends `members` as a JSON object followed by the member `name`, whose value the caller
// appends next, then closes with "}": {"a":1,"name":
void AppendObjectUntil(std::string& out, const boost::json::object& members,
                       std::string_view name) {
  out.append(boost::json::serialize(members));
  out.pop_back();  // the closing brace
  out.append(members.empty() ? "\"" : ",\"").append(name).append("\":");
}

void AppendCsv(std::string& out, std::string_view id, const std::vector<core::Bucket>& buckets) {
  TimestampWriter timestamps;
  for (const auto& b : buckets) {
    out.append(id).append(",");
    timestamps.Append(out, b.start);
    for (auto v : {b.last, b.sum_delta, b.min, b.max}) {
      out.append(",");
      AppendInt(out, v);
    }
    out.append("\n");
  }
}

bool AcceptsCsv(const Request& request) {
  const auto accept = request.Header("Accept").value_or("");
  return accept.find("text/csv") != std::string_view::npos;
}

bool IsCsv(const Request& request) {
  auto type = request.Header("Content-Type").value_or("");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return http::IEquals(type, "text/csv");
}

std::vector<std::string> SplitIds(std::string_view text) {
  std::vector<std::string> ids;
  for (std::size_t start = 0;;) {
    const auto comma = text.find(',', start);
    ids.emplace_back(text.substr(start, comma - start));
    if (comma == std::string_view::npos) return ids;
    start = comma + 1;
  }
}

// One imported point, from the texts of its fields; `where` names it in a problem.
std::optional<core::Problem> ReadPoint(std::string_view id, std::string_view timestamp,
                                       std::optional<std::int64_t> value, const std::string& where,
                                       std::vector<core::HistoryPoint>& out) {
  if (!core::IsValidCountId(id))
    return core::Problem{core::Outcome::kInvalidCountId,
                         where + ": '" + std::string(id) + "' is not a valid count id"};
  const auto t = core::ParseTimestamp(timestamp);
  if (!t) return core::Validation(where + ": timestamp must be an RFC 3339 timestamp");
  if (!value) return core::Validation(where + ": value must be an integer within int64");
  out.push_back({std::string(id), *t, *value});
  return std::nullopt;
}

std::optional<core::Problem> ReadJsonPoints(std::string_view body,
                                            std::vector<core::HistoryPoint>& out) {
  boost::json::object o;
  if (auto p = api::ParseObject(body, false, o)) return p;
  const auto* points = o.if_contains("points");
  if (!points || !points->is_array()) return core::Validation("points must be an array");
  for (std::size_t i = 0; i < points->as_array().size(); ++i) {
    const auto& v = points->as_array()[i];
    const std::string where = "points[" + std::to_string(i) + "]";
    const auto* p = v.if_object();
    const auto* id = p ? p->if_contains("countId") : nullptr;
    const auto* ts = p ? p->if_contains("timestamp") : nullptr;
    const auto* value = p ? p->if_contains("value") : nullptr;
    if (!id || !id->is_string() || !ts || !ts->is_string() || !value)
      return core::Validation(where + ": expected {\"countId\", \"timestamp\", \"value\"}");
    if (auto problem =
            ReadPoint(id->as_string(), ts->as_string(), api::AsInt64(*value), where, out))
      return problem;
  }
  return std::nullopt;
}

// An unquoted field, or one in double quotes without quotes inside.
std::string_view Unquote(std::string_view field) {
  if (field.size() >= 2 && field.front() == '"' && field.back() == '"')
    field = field.substr(1, field.size() - 2);
  return field;
}

std::optional<std::int64_t> ParseInt64(std::string_view text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

std::optional<core::Problem> ReadCsvPoints(std::string_view body,
                                           std::vector<core::HistoryPoint>& out) {
  if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);  // a UTF-8 byte order mark
  std::size_t line_number = 0;
  while (!body.empty()) {
    const auto end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = "line " + std::to_string(line_number);
    if (line_number == 1) {
      if (line != kCsvHeader)
        return core::Validation(where + ": the header must be " + std::string(kCsvHeader));
      continue;
    }
    if (line.empty()) continue;
    const auto c1 = line.find(',');
    const auto c2 = c1 == line.npos ? line.npos : line.find(',', c1 + 1);
    if (c1 == line.npos || c2 == line.npos || line.find(',', c2 + 1) != line.npos)
      return core::Validation(where + ": expected three fields countId,timestamp,value");
    if (auto p = ReadPoint(Unquote(line.substr(0, c1)), Unquote(line.substr(c1 + 1, c2 - c1 - 1)),
                           ParseInt64(Unquote(line.substr(c2 + 1))), where, out))
      return p;
  }
  if (line_number == 0)
    return core::Validation("line 1: the header must be " + std::string(kCsvHeader));
  return std::nullopt;
}

}  // namespace

void AnalysisApi::Register(http::Router& router) {
  const http::RouteOptions admin{.scope = std::string(runtime::kScopeAdmin)};
  const std::string base(kBase);
  router.Add(
      http::Method::kGet, base + "/series", [this](Request& r) { return Series(r); }, admin);
  router.Add(
      http::Method::kPost, base + "/trend", [this](Request& r) { return Trend(r); }, admin);
  router.Add(
      http::Method::kPost, base + "/comparison", [this](Request& r) { return Comparison(r); },
      admin);
  router.Add(
      http::Method::kPost, base + "/prediction", [this](Request& r) { return Prediction(r); },
      admin);
  router.Add(http::Method::kPost, base + "/history:import",
             [this](Request& r) { return Import(r); },
             {.scope = std::string(runtime::kScopeAdmin),
              .body_limit = kImportBodyLimit,
              .content_types = {"application/json", "text/csv"}});
}

Response AnalysisApi::Series(Request& request) {
  Query q;
  const auto ids = request.Query("ids");
  if (!ids) return Response::Problem(core::Validation("ids is required: ?ids=a,b"));
  if (auto p = ReadIds(SplitIds(*ids), 1, q)) return Response::Problem(*p);
  if (auto p = ReadPeriod(request.Query("from"), request.Query("to"), request.Query("unit"), q))
    return Response::Problem(*p);
  if (auto p = CheckSize(q)) return Response::Problem(*p);

  if (AcceptsCsv(request)) {
    std::string csv = "countId,t,last,sum,min,max\n";
    for (const auto& id : q.ids) AppendCsv(csv, id, history_.Series(id, q.from, q.to, q.unit));
    return Response{200, "text/csv; charset=utf-8", std::move(csv), {}};
  }
  std::string body = "{\"series\":[";
  for (std::size_t i = 0; i < q.ids.size(); ++i) {
    if (i > 0) body.append(",");
    AppendObjectUntil(body, {{"countId", q.ids[i]}}, "buckets");
    AppendBuckets(body, history_.Series(q.ids[i], q.from, q.to, q.unit));
    body.append("}");
  }
  body.append("]}");
  return Response::Json(200, std::move(body));
}

Response AnalysisApi::Trend(Request& request) {
  Query q;
  if (auto p = ReadBody(request, 1, q)) return Response::Problem(*p);
  if (auto p = CheckSize(q)) return Response::Problem(*p);
  std::string body = "{\"results\":[";
  for (std::size_t i = 0; i < q.ids.size(); ++i) {
    const auto& id = q.ids[i];
    const auto points = history_.LastValues(id, q.from, q.to, q.unit);
    const auto trend = ComputeTrend(points);
    if (!trend)
      return Response::Problem(
          InsufficientData("'" + id + "' has " + std::to_string(points.size()) +
                           " bucket(s) with data in the period; a trend needs at least 2"));
    if (i > 0) body.append(",");
    AppendObjectUntil(body,
                      {{"countId", id},
                       {"min", trend->min},
                       {"max", trend->max},
                       {"avg", static_cast<double>(trend->avg)},
                       {"change", Integer(trend->change)},
                       {"changeRate", Number(trend->change_rate)},
                       {"classification", ToString(trend->classification)}},
                      "points");
    AppendPoints(body, points);
    body.append("}");
  }
  body.append("]}");
  return Response::Json(200, std::move(body));
}

Response AnalysisApi::Comparison(Request& request) {
  Query q;
  if (auto p = ReadBody(request, 2, q)) return Response::Problem(*p);
  std::vector<std::int64_t> values;
  for (const auto& id : q.ids) {
    const auto last = history_.LastIn(id, q.from, q.to);
    if (!last)
      return Response::Problem(
          InsufficientData("'" + id + "' has no recorded value in the period"));
    values.push_back(last->value);
  }
  const auto c = Compare(values);
  boost::json::array results;
  for (std::size_t i = 0; i < q.ids.size(); ++i)
    results.push_back({{"countId", q.ids[i]},
                       {"value", values[i]},
                       {"relativeToMax", Number(c.relative[i].to_max)},
                       {"relativeToMin", Number(c.relative[i].to_min)},
                       {"relativeToAvg", Number(c.relative[i].to_avg)}});
  return Response::Json(
      200, boost::json::serialize(boost::json::object{{"results", std::move(results)},
                                                      {"max", c.max},
                                                      {"min", c.min},
                                                      {"avg", static_cast<double>(c.avg)}}));
}

Response AnalysisApi::Prediction(Request& request) {
  Query q;
  if (auto p = ReadBody(request, 1, q)) return Response::Problem(*p);
  if (auto p = CheckSize(q)) return Response::Problem(*p);
  boost::json::array results;
  for (const auto& id : q.ids) {
    const auto points = history_.LastValues(id, q.from, q.to, q.unit);
    std::vector<core::Timestamp> future;
    for (std::int64_t k = 1; !points.empty() && k <= q.horizon; ++k)
      future.push_back(AddUnits(points.back().t, q.unit, k));
    const auto prediction = Predict(points, future);
    if (!prediction)
      return Response::Problem(
          InsufficientData("'" + id + "' has " + std::to_string(points.size()) +
                           " bucket(s) with data in the period; a prediction needs at least 2"));
    boost::json::array predicted;
    for (const auto& [t, value] : prediction->points)
      predicted.push_back({{"t", core::FormatTimestamp(t)}, {"value", static_cast<double>(value)}});
    results.push_back({{"countId", id},
                       {"points", std::move(predicted)},
                       {"confidence", static_cast<double>(prediction->confidence)},
                       {"slopePerDay", static_cast<double>(prediction->slope_per_day)}});
  }
  return Response::Json(200, boost::json::serialize(boost::json::object{{"results", results}}));
}

Response AnalysisApi::Import(Request& request) {
  std::vector<core::HistoryPoint> points;
  const auto problem =
      IsCsv(request) ? ReadCsvPoints(request.body, points) : ReadJsonPoints(request.body, points);
  if (problem) return Response::Problem(*problem);
  const std::size_t imported = history_.Import(points);
  return Response::Json(200, boost::json::serialize(boost::json::object{
                                 {"imported", imported}, {"skipped", points.size() - imported}}));
}

}  // namespace count::analysis
