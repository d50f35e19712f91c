#include "sqlite/sqlite_dashboard_store.hpp"

#include "testing/dashboard_store_contract.hpp"
#include "testing/process.hpp"

namespace count::sqlite {
struct SqliteDashboardBackend {
  core::DashboardStore& store() { return store_; }

  testing::TempDir dir_;
  SqliteDatabase db_{dir_.path() / "count.db"};
  SqliteDashboardStore store_{db_};
};

TEST(SqliteDashboardStore, SurvivesReopeningTheDatabase) {
  testing::TempDir dir;
  const auto d = testing::FullDashboard("shop");
  {
    SqliteDatabase db(dir.path() / "count.db");
    ASSERT_TRUE(SqliteDashboardStore(db).Create(d));
  }
  SqliteDatabase db(dir.path() / "count.db");
  testing::ExpectSame(SqliteDashboardStore(db).Get("shop").value(), d);
}

}  // namespace count::sqlite

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, DashboardStoreContract,
                               count::sqlite::SqliteDashboardBackend);
}  // namespace count::testing
