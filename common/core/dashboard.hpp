#pragma once
// Dashboards (UC-005, SPEC §4): configurations kept by dashboard-provision-service in
// DashboardConfigDB; dashboard-update-service reads them to resolve `?dashboardId=`.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/count.hpp"

namespace count::core {

struct WidgetLayout {
  int x = 0, y = 0, w = 1, h = 1;  // grid cells
};

struct Widget {
  std::string id;
  std::string type;  // count | chart | stat | analysis
  std::string title;
  std::vector<std::string> count_ids;
  std::string chart_type, period, unit;  // empty when the widget type has none
  WidgetLayout layout;
};

struct Dashboard {
  std::string id;
  std::string name;
  std::vector<Widget> widgets;
  Timestamp created_at{};
  Timestamp updated_at{};
};

// The counters a dashboard shows, each once, in first-seen order.
inline std::vector<std::string> CountIdsOf(const Dashboard& d) {
  std::vector<std::string> ids;
  for (const auto& w : d.widgets)
    for (const auto& id : w.count_ids)
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  return ids;
}

// The stored form of a dashboard's widgets, shared by the store adapters: a JSON array
// of {"id","type","title","countIds","chartType","period","unit","layout":{"x","y","w","h"}}.
// Decoding tolerates missing members (defaults) and throws std::invalid_argument when the
// text is not such an array (a corrupt row: the adapters report it, nothing is guessed).
std::string EncodeWidgets(const std::vector<Widget>& widgets);
std::vector<Widget> DecodeWidgets(std::string_view text);

// The system of record for dashboard configurations (DashboardConfigDB).
class DashboardStore {
 public:
  virtual ~DashboardStore() = default;
  virtual bool Create(const Dashboard& d) = 0;  // false: the id exists
  virtual std::optional<Dashboard> Get(std::string_view id) = 0;
  virtual std::vector<Dashboard> List() = 0;     // ordered by id
  virtual bool Update(const Dashboard& d) = 0;   // false: not found (created_at is kept)
  virtual bool Delete(std::string_view id) = 0;  // false: not found
  virtual bool Ping() = 0;
};

}  // namespace count::core
