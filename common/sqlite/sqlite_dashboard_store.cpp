#include "sqlite/sqlite_dashboard_store.hpp"

#include <mutex>

namespace count::sqlite {
namespace {

constexpr std::string_view kColumns = "id, name, widgets, created_at, updated_at";

std::int64_t Ms(core::Timestamp t) { return t.time_since_epoch().count(); }
core::Timestamp FromMs(std::int64_t ms) { return core::Timestamp{std::chrono::milliseconds(ms)}; }

core::Dashboard ReadRow(const Statement& s) {
  return core::Dashboard{s.Text(0), s.Text(1), core::DecodeWidgets(s.Text(2)), FromMs(s.Int(3)),
                         FromMs(s.Int(4))};
}

}  // namespace

bool SqliteDashboardStore::Create(const core::Dashboard& d) {
  const std::string widgets = core::EncodeWidgets(d.widgets);
  std::lock_guard lock(db_.mutex());
  Statement s(db_,
              "INSERT OR IGNORE INTO dashboard (id, name, widgets, created_at, updated_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5)");
  s.Bind(1, d.id).Bind(2, d.name).Bind(3, widgets);
  s.Bind(4, Ms(d.created_at)).Bind(5, Ms(d.updated_at)).Run();
  return db_.Changes() > 0;
}

std::optional<core::Dashboard> SqliteDashboardStore::Get(std::string_view id) {
  std::lock_guard lock(db_.mutex());
  Statement s(db_, "SELECT " + std::string(kColumns) + " FROM dashboard WHERE id = ?1");
  s.Bind(1, id);
  if (!s.Step()) return std::nullopt;
  return ReadRow(s);
}

std::vector<core::Dashboard> SqliteDashboardStore::List() {
  std::lock_guard lock(db_.mutex());
  Statement s(db_, "SELECT " + std::string(kColumns) + " FROM dashboard ORDER BY id");
  std::vector<core::Dashboard> out;
  while (s.Step()) out.push_back(ReadRow(s));
  return out;
}

core::UpdateOutcome SqliteDashboardStore::Update(const core::Dashboard& d,
                                                 std::optional<std::int64_t> if_version) {
  const std::string widgets = core::EncodeWidgets(d.widgets);
  std::lock_guard lock(db_.mutex());
  Statement s(db_,
              "UPDATE dashboard SET name = ?2, widgets = ?3, updated_at = ?4 "
              "WHERE id = ?1 AND (?5 IS NULL OR updated_at = ?5)");
  s.Bind(1, d.id).Bind(2, d.name).Bind(3, widgets).Bind(4, Ms(d.updated_at));
  s.Bind(5, if_version).Run();
  if (db_.Changes() > 0) return core::UpdateOutcome::kUpdated;
  Statement exists(db_, "SELECT 1 FROM dashboard WHERE id = ?1");
  exists.Bind(1, d.id);
  return exists.Step() ? core::UpdateOutcome::kStale : core::UpdateOutcome::kNotFound;
}

bool SqliteDashboardStore::Delete(std::string_view id) {
  std::lock_guard lock(db_.mutex());
  Statement s(db_, "DELETE FROM dashboard WHERE id = ?1");
  s.Bind(1, id).Run();
  return db_.Changes() > 0;
}

}  // namespace count::sqlite
