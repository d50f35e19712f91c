#include "postgres/postgres_history_store.hpp"

#include "postgres/migrations.hpp"
#include "postgres/pg_test_server.hpp"
#include "testing/history_store_contract.hpp"

namespace count::postgres {
using core::Unit;
using count::testing::Row;
using count::testing::Rows;
using count::testing::T;

// One database per test process, migrated once; every test starts with empty history.
struct PostgresBackend {
  // The minute, its hour (history_hour is kept beside the minutes), the event id.
  static constexpr std::size_t kRowsOfOnePrunedMinute = 3;

  PostgresBackend() {
    Pool().Exec("TRUNCATE history_minute, history_hour, history_event, history_import");
  }
  core::HistoryStore& store() { return store_; }

  static PgPool& Pool() {
    static PgPool* pool = [] {
      testing::SharedServer().CreateDatabase("history");
      PgPoolOptions o;
      o.database_url = testing::SharedServer().Url("history");
      o.size = 2;
      auto* p = new PgPool(o);  // lives as long as the test process
      Migrate(*p, "countinfo");
      return p;
    }();
    return *pool;
  }

  PostgresHistoryStore store_{Pool()};
};

TEST(PostgresHistoryStore, LargeImportSpansStatementsInOneTransaction) {
  PostgresBackend backend;
  auto& store = backend.store();
  // 45,000 points, one every 20 s: three statements, 15,000 minutes of 3 points each.
  std::vector<core::HistoryPoint> points;
  const auto start = T("2024-01-01T00:00:00Z");
  for (int i = 0; i < 45'000; ++i) points.push_back({"c", start + std::chrono::seconds(20 * i), i});
  EXPECT_EQ(store.Import(points), 45'000u);
  const auto minutes = store.Series("c", start, start + std::chrono::days(30), Unit::kMinute);
  ASSERT_EQ(minutes.size(), 15'000u);
  EXPECT_EQ(Rows({minutes[1]}), (std::vector<Row>{{"2024-01-01T00:01:00.000Z", 5, 0, 3, 5}}));
  EXPECT_EQ(store.Import(points), 0u);
}

}  // namespace count::postgres

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, HistoryStoreContract, count::postgres::PostgresBackend);
}  // namespace count::testing
