#pragma once
// The HistoryStore contract: one suite every adapter passes (SQLite, PostgreSQL), so the
// two cannot drift apart. An adapter's test instantiates it with a backend type that
// offers `core::HistoryStore& store()` on empty history tables and the constant
// `kRowsOfOnePrunedMinute` (rows Prune drops for one minute with one event):
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, HistoryStoreContract, SqliteBackend);
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "core/history.hpp"

namespace count::testing {

using core::Unit;

inline core::Timestamp T(std::string_view text) { return core::ParseTimestamp(text).value(); }

inline core::Event Change(std::string id, std::string at, std::int64_t value,
                          std::optional<std::int64_t> delta, std::string count_id = "c") {
  return {std::move(id), core::EventType::kUpdated, std::move(count_id), delta, value, T(at),
          "test"};
}

// (start, last, sum, min, max): readable expectations.
using Row = std::tuple<std::string, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;
inline std::vector<Row> Rows(const std::vector<core::Bucket>& buckets) {
  std::vector<Row> rows;
  for (const auto& b : buckets)
    rows.emplace_back(core::FormatTimestamp(b.start), b.last, b.sum_delta, b.min, b.max);
  return rows;
}

// (start, value): readable expectations of LastValues.
using Value = std::pair<std::string, std::int64_t>;
inline std::vector<Value> Values(const std::vector<core::BucketValue>& values) {
  std::vector<Value> out;
  for (const auto& v : values) out.emplace_back(core::FormatTimestamp(v.t), v.value);
  return out;
}
inline std::vector<Value> Values(const std::vector<core::Bucket>& buckets) {
  std::vector<Value> out;
  for (const auto& b : buckets) out.emplace_back(core::FormatTimestamp(b.start), b.last);
  return out;
}

template <class Backend>
class HistoryStoreContract : public ::testing::Test {
 protected:
  core::HistoryStore& store() { return backend_.store(); }
  std::vector<Row> Series(Unit unit, std::string_view from = "2000-01-01T00:00:00Z",
                          std::string_view to = "2100-01-01T00:00:00Z", std::string id = "c") {
    return Rows(store().Series(id, T(from), T(to), unit));
  }

 private:
  Backend backend_;
};

TYPED_TEST_SUITE_P(HistoryStoreContract);

TYPED_TEST_P(HistoryStoreContract, RecordFoldsEventsIntoMinutes) {
  auto& store = this->store();
  const std::vector<core::Event> events = {
      Change("e1", "2024-02-01T10:00:05Z", 5, 5), Change("e2", "2024-02-01T10:00:50Z", 3, -2),
      Change("e3", "2024-02-01T10:00:20Z", 7, 4),  // arrives late: not the minute's last
      Change("e4", "2024-02-01T10:01:10Z", 10, std::nullopt),  // a set: contributes 0
  };
  EXPECT_EQ(store.Record(events), 4u);
  // 10:00: last = 3 (10:00:50 is the latest), sum 5 - 2 + 4 = 7, min 3, max 7.
  EXPECT_EQ(this->Series(Unit::kMinute),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 3, 7, 3, 7},
                              {"2024-02-01T10:01:00.000Z", 10, 0, 10, 10}}));
  const auto latest = store.Latest("c");
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->value, 10);
  EXPECT_EQ(latest->timestamp, T("2024-02-01T10:01:10Z"));
  EXPECT_FALSE(store.Latest("other"));
}

TYPED_TEST_P(HistoryStoreContract, RedeliveredEventsCountOnce) {
  auto& store = this->store();
  const std::vector<core::Event> events = {Change("e1", "2024-02-01T10:00:05Z", 5, 5),
                                           Change("e1", "2024-02-01T10:00:05Z", 5, 5)};
  EXPECT_EQ(store.Record(events), 1u);
  EXPECT_EQ(store.Record(events), 0u);
  EXPECT_EQ(this->Series(Unit::kMinute),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 5, 5, 5, 5}}));
}

// A batch partly recorded before (a redelivery after a rebalance, overlapping new events)
// folds only its new events, into minutes, hours and the minutes' last values alike.
TYPED_TEST_P(HistoryStoreContract, APartlyRedeliveredBatchCountsItsNewEventsOnce) {
  auto& store = this->store();
  const auto e1 = Change("e1", "2024-02-01T10:00:05Z", 5, 5);
  const auto e2 = Change("e2", "2024-02-01T10:00:50Z", 7, 2);
  const auto e3 = Change("e3", "2024-02-01T10:01:10Z", 4, -3);
  EXPECT_EQ(store.Record(std::vector<core::Event>{e1, e2}), 2u);
  EXPECT_EQ(store.Record(std::vector<core::Event>{e2, e3, e1}), 1u);
  EXPECT_EQ(this->Series(Unit::kMinute),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 7, 7, 5, 7},
                              {"2024-02-01T10:01:00.000Z", 4, -3, 4, 4}}));
  EXPECT_EQ(this->Series(Unit::kHour),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 4, 4, 4, 7}}));
  EXPECT_EQ(Values(store.LastValues("c", T("2024-02-01T10:00:00Z"), T("2024-02-01T11:00:00Z"),
                                    Unit::kMinute)),
            (std::vector<Value>{{"2024-02-01T10:00:00.000Z", 7}, {"2024-02-01T10:01:00.000Z", 4}}));
}

// A sharded counter's parts (docs/ARCHITECTURE.md, "Hot counters"): each minute records the
// counter's value, its last recorded value plus the parts' deltas, at the latest time seen for
// it, though the parts' events arrive out of order; a redelivered part counts once.
TYPED_TEST_P(HistoryStoreContract, AShardedCountersPartsRecordItsValue) {
  auto& store = this->store();
  auto part = [](std::string id, std::string at, int sub, std::int64_t value, std::int64_t delta) {
    auto e = Change(std::move(id), std::move(at), value, delta, "hot");
    e.sub_counter = sub;
    return e;
  };
  auto created = part("c0", "2024-02-01T10:00:00Z", core::Event::kOwnKey, 10, 10);
  created.type = core::EventType::kCreated;
  const auto a = part("a", "2024-02-01T10:00:40Z", 1, 3, 3);
  const auto b = part("b", "2024-02-01T10:00:30Z", 0, 2, 2);  // applied earlier, relayed later
  EXPECT_EQ(store.Record(std::vector<core::Event>{created, a}), 2u);
  EXPECT_EQ(store.Record(std::vector<core::Event>{b, a}), 1u);  // a again: counted once
  const auto c = part("c", "2024-02-01T10:01:05Z", 1, 1, -2);
  const auto d = part("d", "2024-02-01T10:01:10Z", core::Event::kOwnKey, 10, 0);  // description
  const auto e = part("e", "2024-02-01T10:01:02Z", 2, 4, 4);
  EXPECT_EQ(store.Record(std::vector<core::Event>{c, d, e, b}), 3u);
  // 10:00: 10, 13, then 15 (b, placed at 10:00:40); 10:01: 13, 13, 17.
  EXPECT_EQ(this->Series(Unit::kMinute, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "hot"),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 15, 15, 10, 15},
                              {"2024-02-01T10:01:00.000Z", 17, 2, 13, 17}}));
  EXPECT_EQ(store.Latest("hot")->value, 17);
  EXPECT_EQ(this->Series(Unit::kHour, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "hot"),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 17, 17, 10, 17}}));
  // Deleted (its event carries the last value, the history records 0: the sum of the deltas),
  // then created again: the new counter starts from its initial value.
  auto deleted = part("x", "2024-02-01T10:02:00Z", core::Event::kOwnKey, 17, -17);
  deleted.type = core::EventType::kDeleted;
  EXPECT_EQ(store.Record(std::vector<core::Event>{deleted}), 1u);
  created = part("y", "2024-02-01T10:02:30Z", core::Event::kOwnKey, 5, 5);
  created.type = core::EventType::kCreated;
  EXPECT_EQ(store.Record(std::vector<core::Event>{created}), 1u);
  EXPECT_EQ(this->Series(Unit::kMinute, "2024-02-01T10:02:00Z", "2100-01-01T00:00:00Z", "hot"),
            (std::vector<Row>{{"2024-02-01T10:02:00.000Z", 5, -12, 0, 5}}));
}

// A batch is folded exactly as its events would be one at a time, in order: out-of-order
// times, ties within a millisecond (the later recorded wins), several minutes and counters,
// and an id repeated inside the batch (counted once).
TYPED_TEST_P(HistoryStoreContract, ABatchFoldsLikeItsEventsOneByOne) {
  auto& store = this->store();
  std::vector<core::Event> batch, single;
  std::uint32_t seed = 12345;
  auto next = [&](std::uint32_t n) { return (seed = seed * 1103515245 + 12345) / 65536 % n; };
  for (int i = 0; i < 300; ++i) {
    const std::string counter = std::to_string(next(3));
    const std::int64_t ms = 1'706'781'600'000 + next(4) * 60'000 + next(5) * 7;  // ties too
    const std::int64_t value = std::int64_t(next(2001)) - 1000;
    const std::optional<std::int64_t> delta =
        next(10) == 0 ? std::nullopt : std::optional<std::int64_t>(std::int64_t(next(41)) - 20);
    const core::Timestamp at{std::chrono::milliseconds(ms)};
    batch.push_back({"b" + std::to_string(i), core::EventType::kUpdated, "b" + counter, delta,
                     value, at, "test"});
    single.push_back({"s" + std::to_string(i), core::EventType::kUpdated, "s" + counter, delta,
                      value, at, "test"});
  }
  batch.push_back(batch[17]);  // redelivered inside the same batch
  EXPECT_EQ(store.Record(batch), 300u);
  for (const auto& e : single) EXPECT_EQ(store.Record(std::span(&e, 1)), 1u);
  for (const char* counter : {"0", "1", "2"})
    for (const auto unit : {Unit::kMinute, Unit::kHour}) {
      const auto batched = this->Series(unit, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z",
                                        std::string("b") + counter);
      EXPECT_FALSE(batched.empty());
      EXPECT_EQ(batched, this->Series(unit, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z",
                                      std::string("s") + counter))
          << "counter " << counter;
    }
}

TYPED_TEST_P(HistoryStoreContract, DeletedEventIsRecordedLikeAnyOther) {
  auto& store = this->store();
  auto deleted = Change("e2", "2024-02-01T10:00:30Z", 5, -5);
  deleted.type = core::EventType::kDeleted;
  const std::vector<core::Event> events = {Change("e1", "2024-02-01T10:00:05Z", 5, 5), deleted};
  EXPECT_EQ(store.Record(events), 2u);
  EXPECT_EQ(this->Series(Unit::kMinute),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 5, 0, 5, 5}}));
}

TYPED_TEST_P(HistoryStoreContract, ImportIsIdempotent) {
  auto& store = this->store();
  const std::vector<core::HistoryPoint> points = {{"c", T("2024-02-01T10:00:05Z"), 5},
                                                  {"c", T("2024-02-01T10:00:40Z"), 9},
                                                  {"d", T("2024-02-01T10:00:05Z"), -1}};
  EXPECT_EQ(store.Import(points), 3u);
  const auto before = this->Series(Unit::kMinute);
  EXPECT_EQ(before, (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 9, 0, 5, 9}}));
  EXPECT_EQ(store.Import(points), 0u);
  // The same (counter, time) with another value is the same point: ignored.
  const std::vector<core::HistoryPoint> changed = {{"c", T("2024-02-01T10:00:05Z"), 100}};
  EXPECT_EQ(store.Import(changed), 0u);
  EXPECT_EQ(this->Series(Unit::kMinute), before);
  EXPECT_EQ(this->Series(Unit::kMinute, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "d"),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", -1, 0, -1, -1}}));
}

TYPED_TEST_P(HistoryStoreContract, SeriesDerivesHoursDaysWeeksAndMonths) {
  auto& store = this->store();
  // 2024-01-31 is a Wednesday; 2024-01-29 and 2024-02-05 are Mondays.
  const std::vector<core::Event> events = {
      Change("a", "2024-01-31T23:59:30Z", 1, 1), Change("b", "2024-02-01T00:00:10Z", 2, 1),
      Change("c", "2024-02-01T00:30:00Z", 6, 4), Change("d", "2024-02-04T12:00:00Z", 3, -3),
      Change("e", "2024-02-05T00:00:00Z", 4, 1)};
  ASSERT_EQ(store.Record(events), 5u);
  EXPECT_EQ(this->Series(Unit::kHour),
            (std::vector<Row>{{"2024-01-31T23:00:00.000Z", 1, 1, 1, 1},
                              {"2024-02-01T00:00:00.000Z", 6, 5, 2, 6},
                              {"2024-02-04T12:00:00.000Z", 3, -3, 3, 3},
                              {"2024-02-05T00:00:00.000Z", 4, 1, 4, 4}}));
  EXPECT_EQ(this->Series(Unit::kDay), (std::vector<Row>{{"2024-01-31T00:00:00.000Z", 1, 1, 1, 1},
                                                        {"2024-02-01T00:00:00.000Z", 6, 5, 2, 6},
                                                        {"2024-02-04T00:00:00.000Z", 3, -3, 3, 3},
                                                        {"2024-02-05T00:00:00.000Z", 4, 1, 4, 4}}));
  EXPECT_EQ(this->Series(Unit::kWeek),
            (std::vector<Row>{{"2024-01-29T00:00:00.000Z", 3, 3, 1, 6},
                              {"2024-02-05T00:00:00.000Z", 4, 1, 4, 4}}));
  EXPECT_EQ(this->Series(Unit::kMonth),
            (std::vector<Row>{{"2024-01-01T00:00:00.000Z", 1, 1, 1, 1},
                              {"2024-02-01T00:00:00.000Z", 4, 3, 2, 6}}));
  // [from, to): the minute 2024-02-05T00:00 starts at `to` and is left out.
  EXPECT_EQ(this->Series(Unit::kWeek, "2024-02-01T00:00:00Z", "2024-02-05T00:00:00Z"),
            (std::vector<Row>{{"2024-01-29T00:00:00.000Z", 3, 2, 2, 6}}));
  // Partial hours at both ends: only their minutes inside the period count.
  EXPECT_EQ(this->Series(Unit::kDay, "2024-02-01T00:20:00Z", "2024-02-04T12:00:30Z"),
            (std::vector<Row>{{"2024-02-01T00:00:00.000Z", 6, 4, 6, 6},
                              {"2024-02-04T00:00:00.000Z", 3, -3, 3, 3}}));
}

TYPED_TEST_P(HistoryStoreContract, LastValuesAreTheLastValuesOfTheSeries) {
  auto& store = this->store();
  const std::vector<core::Event> events = {
      Change("a", "1969-12-31T23:59:30Z", 1, 1),  Change("b", "2024-02-01T10:00:05Z", 5, 5),
      Change("c", "2024-02-01T10:00:50Z", 3, -2), Change("d", "2024-02-01T10:00:20Z", 7, 4),
      Change("e", "2024-02-01T10:59:10Z", 8, 5),  Change("f", "2024-02-01T11:00:00Z", 9, 1),
      Change("g", "2024-02-03T00:01:00Z", 2, -7)};
  ASSERT_EQ(store.Record(events), 7u);
  // Later calls fill other minutes of an hour already written, and replace a minute's last.
  const std::vector<core::Event> later = {Change("h", "2024-02-01T10:30:00Z", 4, -4),
                                          Change("i", "2024-02-01T10:00:55Z", 6, 3)};
  ASSERT_EQ(store.Record(later), 2u);
  const std::vector<core::HistoryPoint> imported = {{"c", T("2024-02-01T10:31:00Z"), 11}};
  ASSERT_EQ(store.Import(imported), 1u);

  const auto values = [&](Unit unit, std::string_view from, std::string_view to) {
    return Values(store.LastValues("c", T(from), T(to), unit));
  };
  const auto whole = std::pair{"1969-01-01T00:00:00Z", "2100-01-01T00:00:00Z"};
  EXPECT_EQ(values(Unit::kMinute, whole.first, whole.second),
            (std::vector<Value>{{"1969-12-31T23:59:00.000Z", 1},
                                {"2024-02-01T10:00:00.000Z", 6},
                                {"2024-02-01T10:30:00.000Z", 4},
                                {"2024-02-01T10:31:00.000Z", 11},
                                {"2024-02-01T10:59:00.000Z", 8},
                                {"2024-02-01T11:00:00.000Z", 9},
                                {"2024-02-03T00:01:00.000Z", 2}}));
  // [from, to) by bucket start: 10:00 starts before 10:00:30, 11:00 at `to`.
  EXPECT_EQ(values(Unit::kMinute, "2024-02-01T10:00:30Z", "2024-02-01T11:00:00Z"),
            (std::vector<Value>{{"2024-02-01T10:30:00.000Z", 4},
                                {"2024-02-01T10:31:00.000Z", 11},
                                {"2024-02-01T10:59:00.000Z", 8}}));
  EXPECT_TRUE(values(Unit::kMinute, "2024-02-02T00:00:00Z", "2024-02-03T00:00:00Z").empty());
  for (const auto unit : {Unit::kMinute, Unit::kHour, Unit::kDay, Unit::kWeek, Unit::kMonth}) {
    for (const auto& [from, to] :
         {whole, std::pair{"2024-02-01T10:00:30Z", "2024-02-03T00:00:00Z"}})
      EXPECT_EQ(values(unit, from, to), Values(store.Series("c", T(from), T(to), unit)))
          << core::ToString(unit) << " from " << from;
  }

  store.Purge("c");
  EXPECT_TRUE(values(Unit::kMinute, whole.first, whole.second).empty());
}

TYPED_TEST_P(HistoryStoreContract, BucketsBefore1970FloorCorrectly) {
  auto& store = this->store();
  const std::vector<core::HistoryPoint> points = {{"c", T("1969-12-31T23:59:30Z"), 7}};
  ASSERT_EQ(store.Import(points), 1u);
  const auto from = "1969-01-01T00:00:00Z", to = "1971-01-01T00:00:00Z";
  EXPECT_EQ(this->Series(Unit::kMinute, from, to),
            (std::vector<Row>{{"1969-12-31T23:59:00.000Z", 7, 0, 7, 7}}));
  EXPECT_EQ(this->Series(Unit::kDay, from, to),
            (std::vector<Row>{{"1969-12-31T00:00:00.000Z", 7, 0, 7, 7}}));
  EXPECT_EQ(this->Series(Unit::kWeek, from, to),
            (std::vector<Row>{{"1969-12-29T00:00:00.000Z", 7, 0, 7, 7}}));
  EXPECT_EQ(this->Series(Unit::kMonth, from, to),
            (std::vector<Row>{{"1969-12-01T00:00:00.000Z", 7, 0, 7, 7}}));
}

TYPED_TEST_P(HistoryStoreContract, SumsSaturateInsteadOfFailing) {
  auto& store = this->store();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  const std::vector<core::Event> events = {Change("a", "2024-02-01T10:00:05Z", kMax, kMax),
                                           Change("b", "2024-02-01T10:00:06Z", 0, std::nullopt),
                                           Change("c", "2024-02-01T10:00:07Z", kMax, kMax),
                                           Change("d", "2024-02-01T10:01:00Z", kMax, kMax)};
  ASSERT_EQ(store.Record(events), 4u);
  EXPECT_EQ(this->Series(Unit::kMinute),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", kMax, kMax, 0, kMax},
                              {"2024-02-01T10:01:00.000Z", kMax, kMax, kMax, kMax}}));
  EXPECT_EQ(this->Series(Unit::kHour),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", kMax, kMax, 0, kMax}}));
}

TYPED_TEST_P(HistoryStoreContract, LastInReadsTheLatestMinuteOfThePeriod) {
  auto& store = this->store();
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

TYPED_TEST_P(HistoryStoreContract, PurgeForgetsTheCounterButNotItsEvents) {
  auto& store = this->store();
  const std::vector<core::Event> events = {Change("e1", "2024-02-01T10:00:05Z", 5, 5)};
  const std::vector<core::HistoryPoint> points = {{"c", T("2024-02-01T09:00:00Z"), 1}};
  ASSERT_EQ(store.Record(events), 1u);
  ASSERT_EQ(store.Import(points), 1u);
  store.Purge("c");
  EXPECT_TRUE(this->Series(Unit::kMinute).empty());
  EXPECT_EQ(store.Record(events), 0u);  // a redelivery does not bring it back
  EXPECT_EQ(store.Import(points), 1u);  // a deliberate re-import does
}

TYPED_TEST_P(HistoryStoreContract, PruneWorksInBoundedSteps) {
  auto& store = this->store();
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

TYPED_TEST_P(HistoryStoreContract, PruneDropsWholeHoursBeforeTheCutoff) {
  auto& store = this->store();
  const std::vector<core::Event> events = {Change("old", "2024-02-01T09:59:30Z", 1, 1),
                                           Change("new", "2024-02-01T10:00:30Z", 2, 1),
                                           Change("newer", "2024-02-01T10:01:30Z", 3, 1)};
  ASSERT_EQ(store.Record(events), 3u);
  // The cutoff lies inside the hour 10:00, which is kept whole, with its event ids; 09:59
  // goes (its minute, its event id, and whatever the backend derives from them).
  EXPECT_EQ(store.Prune(T("2024-02-01T10:01:40Z"), 100), TypeParam::kRowsOfOnePrunedMinute);
  EXPECT_EQ(this->Series(Unit::kMinute),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 2, 1, 2, 2},
                              {"2024-02-01T10:01:00.000Z", 3, 1, 3, 3}}));
  EXPECT_EQ(this->Series(Unit::kHour),
            (std::vector<Row>{{"2024-02-01T10:00:00.000Z", 3, 2, 2, 3}}));
  EXPECT_EQ(Values(store.LastValues("c", T("2024-02-01T00:00:00Z"), T("2024-02-02T00:00:00Z"),
                                    Unit::kMinute)),
            (std::vector<Value>{{"2024-02-01T10:00:00.000Z", 2}, {"2024-02-01T10:01:00.000Z", 3}}));
  EXPECT_EQ(store.Record(std::span(events).subspan(1)), 0u);
  EXPECT_EQ(store.Prune(T("2024-02-01T10:01:40Z"), 100), 0u);
}

REGISTER_TYPED_TEST_SUITE_P(HistoryStoreContract, PruneDropsWholeHoursBeforeTheCutoff,
                            RecordFoldsEventsIntoMinutes, ABatchFoldsLikeItsEventsOneByOne,
                            RedeliveredEventsCountOnce, AShardedCountersPartsRecordItsValue,
                            APartlyRedeliveredBatchCountsItsNewEventsOnce,
                            DeletedEventIsRecordedLikeAnyOther, ImportIsIdempotent,
                            SeriesDerivesHoursDaysWeeksAndMonths,
                            LastValuesAreTheLastValuesOfTheSeries, BucketsBefore1970FloorCorrectly,
                            SumsSaturateInsteadOfFailing, LastInReadsTheLatestMinuteOfThePeriod,
                            PurgeForgetsTheCounterButNotItsEvents, PruneWorksInBoundedSteps);

}  // namespace count::testing
