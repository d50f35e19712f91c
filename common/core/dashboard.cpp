#include "core/dashboard.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <stdexcept>

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
