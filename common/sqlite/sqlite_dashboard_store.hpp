#pragma once
// DashboardStore on SQLite for the standalone binary: the `dashboard` table of the shared
// database (schema in sqlite_database.cpp), stored as in PostgreSQL's dashboardconfig.
#include "core/dashboard.hpp"
#include "sqlite/sqlite_database.hpp"

namespace count::sqlite {

class SqliteDashboardStore final : public core::DashboardStore {
 public:
  explicit SqliteDashboardStore(SqliteDatabase& db) : db_(db) {}

  bool Create(const core::Dashboard& d) override;
  std::optional<core::Dashboard> Get(std::string_view id) override;
  std::vector<core::Dashboard> List() override;
  core::UpdateOutcome Update(const core::Dashboard& d,
                             std::optional<std::int64_t> if_version) override;
  bool Delete(std::string_view id) override;
  bool Ping() override { return true; }

 private:
  SqliteDatabase& db_;
};

}  // namespace count::sqlite
