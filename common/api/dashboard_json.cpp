#include "api/dashboard_json.hpp"

#include <limits>

#include "api/count_json.hpp"

namespace count::api {
namespace {

using boost::json::object;
using boost::json::value;

core::Problem Wrong(const std::string& field, std::string_view expected) {
  return core::Validation("\"" + field + "\" must be " + std::string(expected));
}

// An optional string member: absent and null read as empty.
std::optional<core::Problem> OptionalString(const object& o, std::string_view key,
                                            const std::string& where, std::string& out) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) return Wrong(where + std::string(key), "a string");
  out = std::string(v->as_string());
  return std::nullopt;
}

std::optional<core::Problem> ReadLayout(const object& w, const std::string& where,
                                        core::WidgetLayout& out) {
  const auto* l = w.if_contains("layout");
  if (!l || !l->is_object()) return Wrong(where + "layout", "an object {\"x\",\"y\",\"w\",\"h\"}");
  for (auto [key, field] : {std::pair{"x", &out.x}, {"y", &out.y}, {"w", &out.w}, {"h", &out.h}}) {
    const auto* v = l->as_object().if_contains(key);
    const auto n = v ? AsInt64(*v) : std::nullopt;
    if (!n || *n < std::numeric_limits<int>::min() || *n > std::numeric_limits<int>::max())
      return Wrong(where + "layout." + key, "an integer");
    *field = static_cast<int>(*n);
  }
  return std::nullopt;
}

std::optional<core::Problem> ReadWidget(const value& item, const std::string& where,
                                        core::Widget& out) {
  if (!item.is_object()) return Wrong(where.substr(0, where.size() - 1), "an object");
  const object& w = item.as_object();
  for (auto [key, field] : {std::pair{"id", &out.id}, {"type", &out.type}}) {
    const auto* v = w.if_contains(key);
    if (!v || !v->is_string()) return Wrong(where + key, "a string (required)");
    *field = std::string(v->as_string());
  }
  if (auto p = OptionalString(w, "title", where, out.title)) return p;
  if (const auto* ids = w.if_contains("countIds"); ids && !ids->is_null()) {
    if (!ids->is_array()) return Wrong(where + "countIds", "an array of count ids");
    for (const auto& id : ids->as_array()) {
      if (!id.is_string()) return Wrong(where + "countIds", "an array of count ids");
      out.count_ids.emplace_back(id.as_string());
    }
  }
  if (auto p = OptionalString(w, "chartType", where, out.chart_type)) return p;
  if (auto p = OptionalString(w, "period", where, out.period)) return p;
  if (auto p = OptionalString(w, "unit", where, out.unit)) return p;
  return ReadLayout(w, where, out.layout);
}

value OrNull(const std::string& text) { return text.empty() ? value(nullptr) : value(text); }

}  // namespace

std::optional<core::Problem> ReadDashboard(const object& body, core::Dashboard& out) {
  if (const auto* id = body.if_contains("id")) {
    if (!id->is_string()) return Wrong("id", "a string");
    out.id = std::string(id->as_string());
  }
  const auto* name = body.if_contains("name");
  if (!name || !name->is_string()) return Wrong("name", "a string (required)");
  out.name = std::string(name->as_string());
  out.widgets.clear();
  const auto* widgets = body.if_contains("widgets");
  if (!widgets || widgets->is_null()) return std::nullopt;
  if (!widgets->is_array()) return Wrong("widgets", "an array");
  // Bounded before reading: a huge array is refused without building it.
  if (widgets->as_array().size() > core::kMaxWidgets)
    return core::Validation("a dashboard holds at most " + std::to_string(core::kMaxWidgets) +
                            " widgets");
  for (std::size_t i = 0; i < widgets->as_array().size(); ++i) {
    core::Widget w;
    if (auto p = ReadWidget(widgets->as_array()[i], "widgets[" + std::to_string(i) + "].", w))
      return p;
    out.widgets.push_back(std::move(w));
  }
  return std::nullopt;
}

object DashboardJson(const core::Dashboard& d) {
  boost::json::array widgets;
  widgets.reserve(d.widgets.size());
  for (const auto& w : d.widgets) {
    boost::json::array ids;
    for (const auto& id : w.count_ids) ids.emplace_back(id);
    widgets.push_back(object{
        {"id", w.id},
        {"type", w.type},
        {"title", w.title},
        {"countIds", std::move(ids)},
        {"chartType", OrNull(w.chart_type)},
        {"period", OrNull(w.period)},
        {"unit", OrNull(w.unit)},
        {"layout", {{"x", w.layout.x}, {"y", w.layout.y}, {"w", w.layout.w}, {"h", w.layout.h}}}});
  }
  return {{"id", d.id},
          {"name", d.name},
          {"widgets", std::move(widgets)},
          {"createdAt", core::FormatTimestamp(d.created_at)},
          {"updatedAt", core::FormatTimestamp(d.updated_at)},
          {"version", core::VersionOf(d)}};
}

}  // namespace count::api
