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
  // The minute, its hour and its packed hour (kept beside the minutes), the event id.
  static constexpr std::size_t kRowsOfOnePrunedMinute = 4;

  PostgresBackend() {
    Pool().Exec(
        "TRUNCATE history_minute, history_hour, history_hour_minutes, history_event,"
        " history_import");
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

TEST(PostgresHistoryStore, MigrationPacksTheMinutesAlreadyRecorded) {
  // History written before 0003_history_hour_minutes.sql existed: its minutes get packed.
  testing::SharedServer().CreateDatabase("history_before_0003");
  PgPoolOptions o;
  o.database_url = testing::SharedServer().Url("history_before_0003");
  PgPool pool(o);
  const auto all = EmbeddedMigrations("countinfo");
  ASSERT_GE(all.size(), 3u);
  ASSERT_EQ(all[2].version, 3);
  Migrate(pool, std::span(all).first(2));
  // c: 1969-12-31T23:59 (before 1970) and two minutes of one hour; d: one minute.
  pool.Exec(
      "INSERT INTO history_minute (count_id, minute_ms, last_value, last_at_ms, sum_delta,"
      " min_value, max_value) VALUES ('c', -60000, 7, -30000, 0, 7, 7),"
      " ('c', 1706781600000, 1, 1706781600000, 1, 1, 1),"
      " ('c', 1706785140000, 2, 1706785150000, 1, 2, 2),"
      " ('d', 1706781600000, 5, 1706781600000, 5, 5, 5)");
  EXPECT_EQ(Migrate(pool, all).size(), all.size() - 2);
  PostgresHistoryStore store(pool);
  EXPECT_EQ(count::testing::Values(store.LastValues("c", T("1969-01-01T00:00:00Z"),
                                                    T("2100-01-01T00:00:00Z"), Unit::kMinute)),
            (std::vector<count::testing::Value>{{"1969-12-31T23:59:00.000Z", 7},
                                                {"2024-02-01T10:00:00.000Z", 1},
                                                {"2024-02-01T10:59:00.000Z", 2}}));
  // New events patch the packed hour.
  const std::vector<core::Event> events = {
      count::testing::Change("e", "2024-02-01T10:30:10Z", 3, 1)};
  ASSERT_EQ(store.Record(events), 1u);
  EXPECT_EQ(
      store.LastValues("c", T("2024-02-01T10:00:00Z"), T("2024-02-01T11:00:00Z"), Unit::kMinute)
          .size(),
      3u);
}

}  // namespace count::postgres

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, HistoryStoreContract, count::postgres::PostgresBackend);
}  // namespace count::testing
