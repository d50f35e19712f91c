#include "postgres/postgres_dashboard_store.hpp"

namespace count::postgres {

namespace {

// Timestamps cross the wire as epoch milliseconds, converted exactly (integer arithmetic).
constexpr std::string_view kColumns =
    "id, name, widgets::text,"
    " floor(extract(epoch FROM created_at) * 1000)::bigint,"
    " floor(extract(epoch FROM updated_at) * 1000)::bigint";

std::string FromMillis(int n) {
  return "(timestamptz 'epoch' + $" + std::to_string(n) + "::bigint * interval '1 millisecond')";
}

std::string Millis(core::Timestamp t) { return std::to_string(t.time_since_epoch().count()); }

core::Dashboard ReadRow(const PgResult& r, int row) {
  core::Dashboard d;
  d.id = r.String(row, 0);
  d.name = r.String(row, 1);
  d.widgets = core::DecodeWidgets(r.Text(row, 2));
  d.created_at = core::Timestamp(std::chrono::milliseconds(r.Int64(row, 3)));
  d.updated_at = core::Timestamp(std::chrono::milliseconds(r.Int64(row, 4)));
  return d;
}

}  // namespace

bool PostgresDashboardStore::Create(const core::Dashboard& d) {
  static const std::string sql =
      "INSERT INTO dashboard (id, name, widgets, created_at, updated_at)"
      " VALUES ($1, $2, $3::jsonb, " +
      FromMillis(4) + ", " + FromMillis(5) + ") ON CONFLICT (id) DO NOTHING";
  return pool_
             .Exec(sql, {d.id, d.name, core::EncodeWidgets(d.widgets), Millis(d.created_at),
                         Millis(d.updated_at)})
             .affected_rows() == 1;
}

std::optional<core::Dashboard> PostgresDashboardStore::Get(std::string_view id) {
  static const std::string sql =
      "SELECT " + std::string(kColumns) + " FROM dashboard WHERE id = $1";
  const PgResult r = pool_.Exec(sql, {std::string(id)});
  if (r.rows() == 0) return std::nullopt;
  return ReadRow(r, 0);
}

std::vector<core::Dashboard> PostgresDashboardStore::List() {
  static const std::string sql = "SELECT " + std::string(kColumns) + " FROM dashboard ORDER BY id";
  const PgResult r = pool_.Exec(sql);
  std::vector<core::Dashboard> out;
  out.reserve(r.rows());
  for (int row = 0; row < r.rows(); ++row) out.push_back(ReadRow(r, row));
  return out;
}

core::UpdateOutcome PostgresDashboardStore::Update(const core::Dashboard& d,
                                                   std::optional<std::int64_t> if_version) {
  // One statement: the version is compared and the row written under the row's lock.
  static const std::string sql =
      "UPDATE dashboard SET name = $2, widgets = $3::jsonb, updated_at = " + FromMillis(4) +
      " WHERE id = $1 AND ($5::bigint IS NULL OR"
      " floor(extract(epoch FROM updated_at) * 1000)::bigint = $5::bigint)";
  std::optional<std::string> version;
  if (if_version) version = std::to_string(*if_version);
  if (pool_.Exec(sql, {d.id, d.name, core::EncodeWidgets(d.widgets), Millis(d.updated_at), version})
          .affected_rows() == 1)
    return core::UpdateOutcome::kUpdated;
  return pool_.Exec("SELECT 1 FROM dashboard WHERE id = $1", {d.id}).rows() > 0
             ? core::UpdateOutcome::kStale
             : core::UpdateOutcome::kNotFound;
}

bool PostgresDashboardStore::Delete(std::string_view id) {
  return pool_.Exec("DELETE FROM dashboard WHERE id = $1", {std::string(id)}).affected_rows() == 1;
}

bool PostgresDashboardStore::Ping() { return pool_.Ping(); }

}  // namespace count::postgres
