#pragma once
// Dashboards (UC-005, docs/API.md, "Dashboards"): configurations kept by
// dashboard-provision-service in PostgreSQL `dashboardconfig` (docs/ARCHITECTURE.md, "Stores and
// their roles"); dashboard-update-service reads them to resolve `?dashboardId=`.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/count.hpp"
#include "core/problem.hpp"

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
  Timestamp updated_at{};  // also the dashboard's version: every save moves it forward
};

// The version a client edits against (the API's "version" and ETag): updated_at in epoch
// milliseconds. UpdatedAtAfter keeps it strictly increasing, so two saves in one millisecond
// (or a clock stepping back) still make two versions.
inline std::int64_t VersionOf(const Dashboard& d) {
  return d.updated_at.time_since_epoch().count();
}
inline Timestamp UpdatedAtAfter(const Dashboard& stored, Timestamp now) {
  return std::max({now, stored.created_at, stored.updated_at + std::chrono::milliseconds(1)});
}

// The counters a dashboard shows, each once, in first-seen order.
inline std::vector<std::string> CountIdsOf(const Dashboard& d) {
  std::vector<std::string> ids;
  for (const auto& w : d.widgets)
    for (const auto& id : w.count_ids)
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  return ids;
}

// ---- The rules a dashboard obeys (CheckDashboard) ----
//
// * id: a count id's rule (1-128 of [A-Za-z0-9._:-], starting with a letter or digit).
// * name: 1-200 characters, not only blanks. Titles: at most 200 characters.
// * at most 50 widgets; widget ids follow the id rule and are unique in the dashboard.
// * type: count | chart | stat | analysis.
// * countIds: valid count ids, none twice in a widget, at most 20 per widget and 100
//   distinct per dashboard; count, chart and analysis widgets need at least one (an
//   analysis comparison two); a stat widget without any summarises the whole system.
//   Every referenced counter must exist.
// * chartType: chart: line | bar | area; analysis: trend | comparison | prediction;
//   empty (the page's default) allowed; none for count and stat.
// * period: "<n><m|h|d|w>" (e.g. 15m, 24h, 7d, 4w), at most 400 days; for chart, stat and
//   analysis; unit: minute | hour | day | week | month, for chart and analysis. With both,
//   the period holds 1 to 1,440 buckets (a month counted as 30 days).
// * layout on a 12-column grid: x >= 0, w >= 1, x + w <= 12, 0 <= y <= 10,000,
//   1 <= h <= 24. Overlaps are the page's to resolve, not an error.
inline constexpr int kGridColumns = 12;
inline constexpr int kMaxWidgetHeight = 24;
inline constexpr int kMaxGridRow = 10'000;
inline constexpr std::size_t kMaxDashboardNameLength = 200;
inline constexpr std::size_t kMaxWidgetTitleLength = 200;
inline constexpr std::size_t kMaxWidgets = 50;
inline constexpr std::size_t kMaxWidgetCounts = 20;
inline constexpr std::size_t kMaxDashboardCounts = 100;
inline constexpr std::int64_t kMaxPeriodSeconds = 400LL * 24 * 3600;
inline constexpr std::int64_t kMaxPeriodBuckets = 1440;

// Whether a counter exists (CountInfoDB); may throw StoreUnavailable.
using CountExists = std::function<bool(const std::string& count_id)>;

// nullopt when `d` obeys every rule above; else the first violation: 422 invalid-dashboard-id,
// invalid-count-id (a malformed entry of countIds), validation-error naming the field
// (`widgets[2].layout`), or unknown-count naming every missing counter. The structure is
// checked before any counter is looked up, each distinct counter once.
std::optional<Problem> CheckDashboard(const Dashboard& d, const CountExists& exists);

// Seconds in a period of the form above; nullopt when malformed or out of range.
std::optional<std::int64_t> ParsePeriodSeconds(std::string_view period);

Problem InvalidDashboardId(std::string_view id);                 // 422 invalid-dashboard-id
Problem UnknownCounts(const std::vector<std::string>& missing);  // 422 unknown-count
// 409 edit-conflict: a save made against `version` while the stored one is `current`.
Problem EditConflict(std::string_view id, std::int64_t version, std::int64_t current);

// The stored form of a dashboard's widgets, shared by the store adapters: a JSON array
// of {"id","type","title","countIds","chartType","period","unit","layout":{"x","y","w","h"}}.
// Decoding tolerates missing members (defaults) and throws std::invalid_argument when the
// text is not such an array (a corrupt row: the adapters report it, nothing is guessed).
std::string EncodeWidgets(const std::vector<Widget>& widgets);
std::vector<Widget> DecodeWidgets(std::string_view text);

enum class UpdateOutcome { kUpdated, kNotFound, kStale };

// The system of record for dashboard configurations (DashboardConfigDB).
class DashboardStore {
 public:
  virtual ~DashboardStore() = default;
  virtual bool Create(const Dashboard& d) = 0;  // false: the id exists
  virtual std::optional<Dashboard> Get(std::string_view id) = 0;
  virtual std::vector<Dashboard> List() = 0;  // ordered by id
  // Replaces name, widgets and updated_at (created_at is kept). With `if_version`, only
  // while the stored version is that one, checked and written in one step (compare and
  // set): kStale when another save came first.
  virtual UpdateOutcome Update(const Dashboard& d, std::optional<std::int64_t> if_version) = 0;
  virtual bool Delete(std::string_view id) = 0;  // false: not found
  virtual bool Ping() = 0;
};

}  // namespace count::core
