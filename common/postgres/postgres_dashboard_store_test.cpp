#include "postgres/postgres_dashboard_store.hpp"

#include "postgres/migrations.hpp"
#include "postgres/pg_test_server.hpp"
#include "testing/dashboard_store_contract.hpp"

namespace count::postgres {

// One dashboardconfig database per test process, migrated once; every test starts empty.
struct PostgresDashboardBackend {
  PostgresDashboardBackend() { Pool().Exec("TRUNCATE dashboard"); }
  core::DashboardStore& store() { return store_; }

  static PgPool& Pool() {
    static PgPool* pool = [] {
      testing::SharedServer().CreateDatabase("dashboardconfig");
      PgPoolOptions o;
      o.database_url = testing::SharedServer().Url("dashboardconfig");
      o.size = 2;
      auto* p = new PgPool(o);  // lives as long as the test process
      Migrate(*p, "dashboardconfig");
      return p;
    }();
    return *pool;
  }

  PostgresDashboardStore store_{Pool()};
};

TEST(PostgresDashboardStore, SchemaRefusesWhatTheDomainRefuses) {
  PostgresDashboardBackend backend;
  auto d = count::testing::FullDashboard("-bad");
  EXPECT_THROW(backend.store().Create(d), PgError);
  d.id = "ok";
  d.name = "";
  EXPECT_THROW(backend.store().Create(d), PgError);
  EXPECT_TRUE(backend.store().List().empty());
}

TEST(PostgresDashboardStore, MigrationsAreEmbeddedAndApplyOnce) {
  const auto all = EmbeddedMigrations("dashboardconfig");
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0].name, "dashboards");
  EXPECT_TRUE(Migrate(PostgresDashboardBackend::Pool(), "dashboardconfig").empty());
}

}  // namespace count::postgres

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, DashboardStoreContract,
                               count::postgres::PostgresDashboardBackend);
}  // namespace count::testing
