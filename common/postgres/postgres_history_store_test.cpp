#include "postgres/postgres_history_store.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <limits>
#include <tuple>

#include "postgres/migrations.hpp"
#include "postgres/pg_test_server.hpp"

namespace count::postgres {
namespace {

using core::Unit;

core::Timestamp T(std::string_view text) { return core::ParseTimestamp(text).value(); }

core::Event Change(std::string id, std::string at, std::int64_t value,
                   std::optional<std::int64_t> delta, std::string count_id = "c") {
  return {std::move(id), core::EventType::kUpdated, std::move(count_id), delta, value, T(at),
          "test"};
}

// (start, last, sum, min, max): readable expectations.
using Row = std::tuple<std::string, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;
std::vector<Row> Rows(const std::vector<core::Bucket>& buckets) {
  std::vector<Row> rows;
  for (const auto& b : buckets)
    rows.emplace_back(core::FormatTimestamp(b.start), b.last, b.sum_delta, b.min, b.max);
  return rows;
}

class PostgresHistoryStoreTest : public ::testing::Test {
 protected:
  std::vector<Row> Series(Unit unit, std::string_view from = "2000-01-01T00:00:00Z",
                          std::string_view to = "2100-01-01T00:00:00Z", std::string id = "c") {
    return Rows(store.Series(id, T(from), T(to), unit));
  }

  // One database per test process; every test starts with empty history tables.
  static void SetUpTestSuite() {
    testing::SharedServer().CreateDatabase("history");
    PgPoolOptions o;
    o.database_url = testing::SharedServer().Url("history");
    o.size = 2;
    pool_ = new PgPool(o);
    Migrate(*pool_, "countinfo");
  }
  static void TearDownTestSuite() {
    delete pool_;
    pool_ = nullptr;
    testing::SharedServer().Sql("postgres", "DROP DATABASE history");
  }
  void SetUp() override {
    pool_->Exec("TRUNCATE history_minute, history_hour, history_event, history_import");
  }

  static PgPool* pool_;
  PostgresHistoryStore store{*pool_};
};
PgPool* PostgresHistoryStoreTest::pool_ = nullptr;

TEST_F(PostgresHistoryStoreTest, RecordFoldsEventsIntoMinutes) {
  const std::vector<core::Event> events = {
      Change("e1", "2024-02-01T10:00:05Z", 5, 5), Change("e2", "2024-02-01T10:00:50Z", 3, -2),
      Change("e3", "2024-02-01T10:00:20Z", 7, 4),  // arrives late: not the minute's last
      Change("e4", "2024-02-01T10:01:10Z", 10, std::nullopt),  // a set: contributes 0
  };
  EXPECT_EQ(store.Record(events), 4u);
  // 10:00: last = 3 (10:00:50 is the latest), sum 5 - 2 + 4 = 7, min 3, max 7.
  EXPECT_EQ(Series(Unit::kMinute), (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 3, 7, 3, 7},
                                                     {"2024-02-01T10:01:00.000Z", 10, 0, 10, 10}}));
  const auto latest = store.Latest("c");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->value, 10);
  EXPECT_EQ(latest->timestamp, T("2024-02-01T10:01:10Z"));
  EXPECT_FALSE(store.Latest("other"));
}

TEST_F(PostgresHistoryStoreTest, RedeliveredEventsCountOnce) {
  const std::vector<core::Event> events = {Change("e1", "2024-02-01T10:00:05Z", 5, 5),
                                           Change("e1", "2024-02-01T10:00:05Z", 5, 5)};
  EXPECT_EQ(store.Record(events), 1u);
  EXPECT_EQ(store.Record(events), 0u);
  EXPECT_EQ(Series(Unit::kMinute), (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 5, 5, 5, 5}}));
}

TEST_F(PostgresHistoryStoreTest, DeletedEventIsRecordedLikeAnyOther) {
  auto deleted = Change("e2", "2024-02-01T10:00:30Z", 5, -5);
  deleted.type = core::EventType::kDeleted;
  const std::vector<core::Event> events = {Change("e1", "2024-02-01T10:00:05Z", 5, 5), deleted};
  EXPECT_EQ(store.Record(events), 2u);
  EXPECT_EQ(Series(Unit::kMinute), (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 5, 0, 5, 5}}));
}

TEST_F(PostgresHistoryStoreTest, ImportIsIdempotent) {
  const std::vector<core::HistoryPoint> points = {{"c", T("2024-02-01T10:00:05Z"), 5},
                                                  {"c", T("2024-02-01T10:00:40Z"), 9},
                                                  {"d", T("2024-02-01T10:00:05Z"), -1}};
  EXPECT_EQ(store.Import(points), 3u);
  const auto before = Series(Unit::kMinute);
  EXPECT_EQ(before, (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 9, 0, 5, 9}}));
  EXPECT_EQ(store.Import(points), 0u);
  // The same (counter, time) with another value is the same point: ignored.
  const std::vector<core::HistoryPoint> changed = {{"c", T("2024-02-01T10:00:05Z"), 100}};
  EXPECT_EQ(store.Import(changed), 0u);
  EXPECT_EQ(Series(Unit::kMinute), before);
  EXPECT_EQ(Series(Unit::kMinute, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "d"),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", -1, 0, -1, -1}}));
}

TEST_F(PostgresHistoryStoreTest, SeriesDerivesHoursDaysWeeksAndMonths) {
  // 2024-01-31 is a Wednesday; 2024-01-29 and 2024-02-05 are Mondays.
  const std::vector<core::Event> events = {
      Change("a", "2024-01-31T23:59:30Z", 1, 1), Change("b", "2024-02-01T00:00:10Z", 2, 1),
      Change("c", "2024-02-01T00:30:00Z", 6, 4), Change("d", "2024-02-04T12:00:00Z", 3, -3),
      Change("e", "2024-02-05T00:00:00Z", 4, 1)};
  ASSERT_EQ(store.Record(events), 5u);
  EXPECT_EQ(Series(Unit::kHour), (std::vector<Row>{{"2024-01-31T23:00:00.000Z", 1, 1, 1, 1},
                                                   {"2024-02-01T00:00:00.000Z", 6, 5, 2, 6},
                                                   {"2024-02-04T12:00:00.000Z", 3, -3, 3, 3},
                                                   {"2024-02-05T00:00:00.000Z", 4, 1, 4, 4}}));
  EXPECT_EQ(Series(Unit::kDay), (std::vector<Row>{{"2024-01-31T00:00:00.000Z", 1, 1, 1, 1},
                                                  {"2024-02-01T00:00:00.000Z", 6, 5, 2, 6},
                                                  {"2024-02-04T00:00:00.000Z", 3, -3, 3, 3},
                                                  {"2024-02-05T00:00:00.000Z", 4, 1, 4, 4}}));
  EXPECT_EQ(Series(Unit::kWeek), (std::vector<Row>{{"2024-01-29T00:00:00.000Z", 3, 3, 1, 6},
                                                   {"2024-02-05T00:00:00.000Z", 4, 1, 4, 4}}));
  EXPECT_EQ(Series(Unit::kMonth), (std::vector<Row>{{"2024-01-01T00:00:00.000Z", 1, 1, 1, 1},
                                                    {"2024-02-01T00:00:00.000Z", 4, 3, 2, 6}}));
  // [from, to): the minute 2024-02-05T00:00 starts at `to` and is left out.
  EXPECT_EQ(Series(Unit::kWeek, "2024-02-01T00:00:00Z", "2024-02-05T00:00:00Z"),
            (std::vector<Row>{{"2024-01-29T00:00:00.000Z", 3, 2, 2, 6}}));
  // Partial hours at both ends: only their minutes inside the period count.
  EXPECT_EQ(Series(Unit::kDay, "2024-02-01T00:20:00Z", "2024-02-04T12:00:30Z"),
            (std::vector<Row>{{"2024-02-01T00:00:00.000Z", 6, 4, 6, 6},
                              {"2024-02-04T00:00:00.000Z", 3, -3, 3, 3}}));
}

TEST_F(PostgresHistoryStoreTest, BucketsBefore1970FloorCorrectly) {
  const std::vector<core::HistoryPoint> points = {{"c", T("1969-12-31T23:59:30Z"), 7}};
  ASSERT_EQ(store.Import(points), 1u);
  const auto from = "1969-01-01T00:00:00Z", to = "1971-01-01T00:00:00Z";
  EXPECT_EQ(Series(Unit::kMinute, from, to),
            (std::vector<Row>{{"1969-12-31T23:59:00.000Z", 7, 0, 7, 7}}));
  EXPECT_EQ(Series(Unit::kDay, from, to),
            (std::vector<Row>{{"1969-12-31T00:00:00.000Z", 7, 0, 7, 7}}));
  EXPECT_EQ(Series(Unit::kWeek, from, to),
            (std::vector<Row>{{"1969-12-29T00:00:00.000Z", 7, 0, 7, 7}}));
  EXPECT_EQ(Series(Unit::kMonth, from, to),
            (std::vector<Row>{{"1969-12-01T00:00:00.000Z", 7, 0, 7, 7}}));
}

TEST_F(PostgresHistoryStoreTest, SumsSaturateInsteadOfFailing) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  const std::vector<core::Event> events = {Change("a", "2024-02-01T10:00:05Z", kMax, kMax),
                                           Change("b", "2024-02-01T10:00:06Z", 0, std::nullopt),
                                           Change("c", "2024-02-01T10:00:07Z", kMax, kMax),
                                           Change("d", "2024-02-01T10:01:00Z", kMax, kMax)};
  ASSERT_EQ(store.Record(events), 4u);
  EXPECT_EQ(Series(Unit::kMinute),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", kMax, kMax, 0, kMax},
                              {"2024-02-01T10:01:00.000Z", kMax, kMax, kMax, kMax}}));
  EXPECT_EQ(Series(Unit::kHour),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", kMax, kMax, 0, kMax}}));
}

TEST_F(PostgresHistoryStoreTest, LastInReadsTheLatestMinuteOfThePeriod) {
  const std::vector<core::HistoryPoint> points = {{"c", T("2024-02-01T10:00:05Z"), 1},
                                                  {"c", T("2024-02-01T11:00:05Z"), 2},
                                                  {"c", T("2024-02-01T12:00:05Z"), 3}};
  ASSERT_EQ(store.Import(points), 3u);
  const auto last = store.LastIn("c", T("2024-02-01T10:00:00Z"), T("2024-02-01T12:00:00Z"));
  ASSERT_TRUE(last);
  EXPECT_EQ(last->value, 2);
  EXPECT_EQ(last->timestamp, T("2024-02-01T11:00:05Z"));
  EXPECT_FALSE(store.LastIn("c", T("2024-02-02T00:00:00Z"), T("2024-02-03T00:00:00Z")));
}

TEST_F(PostgresHistoryStoreTest, PurgeForgetsTheCounterButNotItsEvents) {
  const std::vector<core::Event> events = {Change("e1", "2024-02-01T10:00:05Z", 5, 5)};
  const std::vector<core::HistoryPoint> points = {{"c", T("2024-02-01T09:00:00Z"), 1}};
  ASSERT_EQ(store.Record(events), 1u);
  ASSERT_EQ(store.Import(points), 1u);
  store.Purge("c");
  EXPECT_TRUE(Series(Unit::kMinute).empty());
  EXPECT_EQ(store.Record(events), 0u);  // a redelivery does not bring it back
  EXPECT_EQ(store.Import(points), 1u);  // a deliberate re-import does
}

TEST_F(PostgresHistoryStoreTest, PruneDropsWholeHoursBeforeTheCutoff) {
  const std::vector<core::Event> events = {Change("old", "2024-02-01T09:59:30Z", 1, 1),
                                           Change("new", "2024-02-01T10:00:30Z", 2, 1),
                                           Change("newer", "2024-02-01T10:01:30Z", 3, 1)};
  ASSERT_EQ(store.Record(events), 3u);
  // The cutoff lies inside the hour 10:00, which is kept whole, with its event ids; 09:59
  // goes (minute, hour, event id).
  EXPECT_EQ(store.Prune(T("2024-02-01T10:01:40Z"), 100), 3u);
  EXPECT_EQ(Series(Unit::kMinute), (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 2, 1, 2, 2},
                                                     {"2024-02-01T10:01:00.000Z", 3, 1, 3, 3}}));
  EXPECT_EQ(Series(Unit::kHour), (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 3, 2, 2, 3}}));
  EXPECT_EQ(store.Record(std::span(events).subspan(1)), 0u);
  EXPECT_EQ(store.Prune(T("2024-02-01T10:01:40Z"), 100), 0u);
}

TEST_F(PostgresHistoryStoreTest, PruneWorksInBoundedSteps) {
  // Five points in five hours, at most 2 rows of each kind per step: 2, 2, 1, then an
  // empty step (the third step's sum over all kinds does not show it was the last).
  std::vector<core::HistoryPoint> points;
  for (int i = 0; i < 5; ++i)
    points.push_back({"c", T("2024-02-01T00:00:00Z") + std::chrono::hours(i), i});
  ASSERT_EQ(store.Import(points), 5u);
  int steps = 1;
  while (store.Prune(T("2024-02-02T00:00:00Z"), 2) >= 2) ++steps;
  EXPECT_EQ(steps, 4);
  EXPECT_FALSE(store.Latest("c"));
}

TEST_F(PostgresHistoryStoreTest, LargeImportSpansStatementsInOneTransaction) {
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

}  // namespace
}  // namespace count::postgres
