#include "core/dashboard.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <stdexcept>

#include "core/history.hpp"

namespace count::core {

namespace {

std::string StringMember(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return {};
  return std::string(v->as_string());
}

int IntMember(const boost::json::object& o, std::string_view key, int fallback) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_int64()) return fallback;
  return static_cast<int>(v->as_int64());
}

}  // namespace

std::string EncodeWidgets(const std::vector<Widget>& widgets) {
  boost::json::array out;
  out.reserve(widgets.size());
  for (const auto& w : widgets) {
    boost::json::array ids;
    for (const auto& id : w.count_ids) ids.emplace_back(id);
    out.push_back(boost::json::object{
        {"id", w.id},
        {"type", w.type},
        {"title", w.title},
        {"countIds", std::move(ids)},
        {"chartType", w.chart_type},
        {"period", w.period},
        {"unit", w.unit},
        {"layout", {{"x", w.layout.x}, {"y", w.layout.y}, {"w", w.layout.w}, {"h", w.layout.h}}}});
  }
  return boost::json::serialize(out);
}

std::vector<Widget> DecodeWidgets(std::string_view text) {
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(text, ec);
  if (ec || !parsed.is_array()) throw std::invalid_argument("stored widgets are not a JSON array");
  std::vector<Widget> widgets;
  widgets.reserve(parsed.as_array().size());
  for (const auto& item : parsed.as_array()) {
    if (!item.is_object()) throw std::invalid_argument("a stored widget is not a JSON object");
    const auto& o = item.as_object();
    Widget w;
    w.id = StringMember(o, "id");
    w.type = StringMember(o, "type");
    w.title = StringMember(o, "title");
    if (const auto* ids = o.if_contains("countIds"); ids && ids->is_array())
      for (const auto& id : ids->as_array())
        if (id.is_string()) w.count_ids.emplace_back(id.as_string());
    w.chart_type = StringMember(o, "chartType");
    w.period = StringMember(o, "period");
    w.unit = StringMember(o, "unit");
    if (const auto* l = o.if_contains("layout"); l && l->is_object()) {
      const auto& lo = l->as_object();
      w.layout = {IntMember(lo, "x", 0), IntMember(lo, "y", 0), IntMember(lo, "w", 1),
                  IntMember(lo, "h", 1)};
    }
    widgets.push_back(std::move(w));
  }
  return widgets;
}

}  // namespace count::core

namespace count::core {

namespace {

// Characters (code points) of UTF-8 text: the bytes that do not continue a sequence.
std::size_t Characters(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

bool Blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool OneOf(std::string_view value, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

std::int64_t UnitSeconds(Unit unit) {
  switch (unit) {
    case Unit::kMinute:
      return 60;
    case Unit::kHour:
      return 3600;
    case Unit::kDay:
      return 86'400;
    case Unit::kWeek:
      return 7 * 86'400;
    case Unit::kMonth:
      return 30 * 86'400;
  }
  return 60;
}

std::optional<Problem> CheckLayout(const WidgetLayout& l, const std::string& where) {
  auto bad = [&](std::string what) { return Validation(where + ".layout: " + what); };
  if (l.x < 0 || l.y < 0) return bad("x and y must not be negative");
  if (l.w < 1 || l.w > kGridColumns)
    return bad("w must be from 1 to " + std::to_string(kGridColumns));
  if (l.x + l.w > kGridColumns)
    return bad("x + w must be at most " + std::to_string(kGridColumns) + " (the grid's columns)");
  if (l.h < 1 || l.h > kMaxWidgetHeight)
    return bad("h must be from 1 to " + std::to_string(kMaxWidgetHeight));
  if (l.y > kMaxGridRow) return bad("y must be at most " + std::to_string(kMaxGridRow));
  return std::nullopt;
}

// The options (chartType, period, unit) each widget type takes.
std::optional<Problem> CheckOptions(const Widget& w, const std::string& where) {
  const bool is_chart = w.type == "chart", is_analysis = w.type == "analysis";
  if (!w.chart_type.empty()) {
    if (is_chart && !OneOf(w.chart_type, {"line", "bar", "area"}))
      return Validation(where + ".chartType must be line, bar or area");
    if (is_analysis && !OneOf(w.chart_type, {"trend", "comparison", "prediction"}))
      return Validation(where + ".chartType must be trend, comparison or prediction");
    if (!is_chart && !is_analysis)
      return Validation(where + ": a " + w.type + " widget has no chartType");
  }
  if (is_analysis && w.chart_type == "comparison" && w.count_ids.size() < 2)
    return Validation(where + ": a comparison needs at least 2 countIds");
  std::optional<std::int64_t> period;
  if (!w.period.empty()) {
    if (w.type == "count") return Validation(where + ": a count widget has no period");
    period = ParsePeriodSeconds(w.period);
    if (!period)
      return Validation(where +
                        ".period must be a number and m, h, d or w (e.g. 15m, 24h, 7d), at most "
                        "400 days");
  }
  if (!w.unit.empty()) {
    if (!is_chart && !is_analysis)
      return Validation(where + ": a " + w.type + " widget has no unit");
    const auto unit = ParseUnit(w.unit);
    if (!unit) return Validation(where + ".unit must be minute, hour, day, week or month");
    if (period) {
      const std::int64_t buckets = *period / UnitSeconds(*unit);
      if (buckets < 1 || buckets > kMaxPeriodBuckets)
        return Validation(where + ": period " + w.period + " by " + w.unit + " makes " +
                          std::to_string(buckets) + " buckets; it must make 1 to " +
                          std::to_string(kMaxPeriodBuckets));
    }
  }
  return std::nullopt;
}

std::optional<Problem> CheckWidget(const Widget& w, const std::string& where) {
  if (!IsValidCountId(w.id))
    return Validation(where +
                      ".id must be 1-128 characters of [A-Za-z0-9._:-] starting with a letter or "
                      "digit");
  if (!OneOf(w.type, {"count", "chart", "stat", "analysis"}))
    return Validation(where + ".type must be count, chart, stat or analysis");
  if (Characters(w.title) > kMaxWidgetTitleLength)
    return Validation(where + ".title must be at most " + std::to_string(kMaxWidgetTitleLength) +
                      " characters");
  if (w.count_ids.size() > kMaxWidgetCounts)
    return Validation(where + ".countIds must hold at most " + std::to_string(kMaxWidgetCounts) +
                      " counters");
  for (std::size_t i = 0; i < w.count_ids.size(); ++i) {
    if (!IsValidCountId(w.count_ids[i])) return InvalidCountId(w.count_ids[i]);
    if (std::find(w.count_ids.begin(), w.count_ids.begin() + i, w.count_ids[i]) !=
        w.count_ids.begin() + i)
      return Validation(where + ".countIds names '" + w.count_ids[i] + "' twice");
  }
  if (w.count_ids.empty() && w.type != "stat")
    return Validation(where + ": a " + w.type + " widget needs at least one of countIds");
  if (auto p = CheckOptions(w, where)) return p;
  return CheckLayout(w.layout, where);
}

}  // namespace

std::optional<std::int64_t> ParsePeriodSeconds(std::string_view period) {
  if (period.size() < 2 || period.size() > 8) return std::nullopt;
  std::int64_t n = 0;
  for (char c : period.substr(0, period.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  std::int64_t unit = 0;
  switch (period.back()) {
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86'400;
      break;
    case 'w':
      unit = 7 * 86'400;
      break;
    default:
      return std::nullopt;
  }
  if (n < 1 || n > kMaxPeriodSeconds / unit) return std::nullopt;
  return n * unit;
}

Problem InvalidDashboardId(std::string_view id) {
  return {Outcome::kInvalidDashboardId,
          "a dashboard id is 1-128 characters of [A-Za-z0-9._:-] starting with a letter or digit"};
}

Problem UnknownCounts(const std::vector<std::string>& missing) {
  std::string list;
  for (const auto& id : missing) list += (list.empty() ? "'" : ", '") + id + "'";
  return {Outcome::kUnknownCount, "the dashboard refers to counters that do not exist: " + list};
}

Problem EditConflict(std::string_view id, std::int64_t version, std::int64_t current) {
  return {Outcome::kEditConflict,
          "dashboard '" + std::string(id) + "' was saved by someone else since you opened it " +
              "(your version " + std::to_string(version) + ", now " + std::to_string(current) +
              "); load it again, then make your change once more"};
}

std::optional<Problem> CheckDashboard(const Dashboard& d, const CountExists& exists) {
  if (!IsValidCountId(d.id)) return InvalidDashboardId(d.id);
  if (Blank(d.name) || Characters(d.name) > kMaxDashboardNameLength)
    return Validation("name is required: 1 to " + std::to_string(kMaxDashboardNameLength) +
                      " characters, not only blanks");
  if (d.widgets.size() > kMaxWidgets)
    return Validation("a dashboard holds at most " + std::to_string(kMaxWidgets) + " widgets");
  for (std::size_t i = 0; i < d.widgets.size(); ++i) {
    const std::string where = "widgets[" + std::to_string(i) + "]";
    if (auto p = CheckWidget(d.widgets[i], where)) return p;
    for (std::size_t j = 0; j < i; ++j)
      if (d.widgets[j].id == d.widgets[i].id)
        return Validation(where + ".id '" + d.widgets[i].id + "' is used by widgets[" +
                          std::to_string(j) + "] already");
  }
  const std::vector<std::string> ids = CountIdsOf(d);
  if (ids.size() > kMaxDashboardCounts)
    return Validation("a dashboard shows at most " + std::to_string(kMaxDashboardCounts) +
                      " distinct counters");
  std::vector<std::string> missing;
  for (const auto& id : ids)
    if (!exists(id)) missing.push_back(id);
  if (!missing.empty()) return UnknownCounts(missing);
  return std::nullopt;
}

}  // namespace count::core
