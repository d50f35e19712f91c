#pragma once
// DashboardStore on PostgreSQL: the `dashboard` table of the dashboardconfig database
// (migrations/dashboardconfig). Run Migrate(pool, "dashboardconfig") before use.
#include "core/dashboard.hpp"
#include "postgres/pg_pool.hpp"

namespace count::postgres {

class PostgresDashboardStore : public core::DashboardStore {
 public:
  explicit PostgresDashboardStore(PgPool& pool) : pool_(pool) {}

  bool Create(const core::Dashboard& d) override;
  std::optional<core::Dashboard> Get(std::string_view id) override;
  std::vector<core::Dashboard> List() override;
  core::UpdateOutcome Update(const core::Dashboard& d,
                             std::optional<std::int64_t> if_version) override;
  bool Delete(std::string_view id) override;
  bool Ping() override;

 private:
  PgPool& pool_;
};

}  // namespace count::postgres
