#pragma once
// The DashboardStore contract: one suite every adapter passes (SQLite, PostgreSQL), so the
// two cannot drift apart. An adapter's test instantiates it with a backend type that
// offers `core::DashboardStore& store()` on an empty dashboard table:
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, DashboardStoreContract, SqliteBackend);
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "core/dashboard.hpp"

namespace count::testing {

inline core::Timestamp Ms(std::int64_t ms) {
  return core::Timestamp(std::chrono::milliseconds(ms));
}

// A dashboard using every field: two widgets, one with all options and a Unicode title.
inline core::Dashboard FullDashboard(std::string id) {
  core::Dashboard d;
  d.id = std::move(id);
  d.name = "Shop — 조회수 \"live\" \\ 👀";
  d.widgets = {
      {"w1",
       "chart",
       "Views per hour",
       {"page.views", "page:likes"},
       "line",
       "24h",
       "hour",
       {0, 0, 8, 4}},
      {"w-2", "count", "", {"stock_1"}, "", "", "", {8, 0, 4, 2}},
  };
  d.created_at = Ms(1'700'000'000'123);
  d.updated_at = Ms(1'700'000'000'456);
  return d;
}

inline std::vector<std::string> Ids(const std::vector<core::Dashboard>& list) {
  std::vector<std::string> ids;
  for (const auto& d : list) ids.push_back(d.id);
  return ids;
}

// Field by field, so a failure names what differs.
inline void ExpectSame(const core::Dashboard& got, const core::Dashboard& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.updated_at, want.updated_at);
  ASSERT_EQ(got.widgets.size(), want.widgets.size());
  for (std::size_t i = 0; i < want.widgets.size(); ++i) {
    const auto &g = got.widgets[i], &w = want.widgets[i];
    SCOPED_TRACE("widget " + w.id);
    EXPECT_EQ(g.id, w.id);
    EXPECT_EQ(g.type, w.type);
    EXPECT_EQ(g.title, w.title);
    EXPECT_EQ(g.count_ids, w.count_ids);
    EXPECT_EQ(g.chart_type, w.chart_type);
    EXPECT_EQ(g.period, w.period);
    EXPECT_EQ(g.unit, w.unit);
    EXPECT_EQ(std::tie(g.layout.x, g.layout.y, g.layout.w, g.layout.h),
              std::tie(w.layout.x, w.layout.y, w.layout.w, w.layout.h));
  }
}

template <class Backend>
class DashboardStoreContract : public ::testing::Test {
 protected:
  core::DashboardStore& store() { return backend_.store(); }

 private:
  Backend backend_;
};

TYPED_TEST_SUITE_P(DashboardStoreContract);

TYPED_TEST_P(DashboardStoreContract, CreateThenGetReturnsEveryField) {
  auto& store = this->store();
  const auto d = FullDashboard("shop");
  ASSERT_TRUE(store.Create(d));
  const auto got = store.Get("shop");
  ASSERT_TRUE(got);
  ExpectSame(*got, d);
  EXPECT_EQ(core::CountIdsOf(*got),
            (std::vector<std::string>{"page.views", "page:likes", "stock_1"}));
}

TYPED_TEST_P(DashboardStoreContract, EmptyDashboardRoundTrips) {
  auto& store = this->store();
  core::Dashboard d{"empty", "Nothing yet", {}, Ms(0), Ms(1)};
  ASSERT_TRUE(store.Create(d));
  const auto got = store.Get("empty");
  ASSERT_TRUE(got);
  ExpectSame(*got, d);
}

TYPED_TEST_P(DashboardStoreContract, DuplicateIdIsRefusedAndKeepsTheFirst) {
  auto& store = this->store();
  const auto first = FullDashboard("shop");
  ASSERT_TRUE(store.Create(first));
  auto second = FullDashboard("shop");
  second.name = "other";
  second.widgets.clear();
  EXPECT_FALSE(store.Create(second));
  ExpectSame(store.Get("shop").value(), first);
}

TYPED_TEST_P(DashboardStoreContract, UnknownIdIsAbsent) {
  auto& store = this->store();
  EXPECT_FALSE(store.Get("nope"));
  EXPECT_FALSE(store.Delete("nope"));
  EXPECT_EQ(store.Update(FullDashboard("nope"), std::nullopt), core::UpdateOutcome::kNotFound);
  EXPECT_EQ(store.Update(FullDashboard("nope"), 1), core::UpdateOutcome::kNotFound);
  EXPECT_FALSE(store.Get("nope"));  // Update does not create
  EXPECT_TRUE(store.List().empty());
}

TYPED_TEST_P(DashboardStoreContract, ListIsOrderedByIdBytewise) {
  auto& store = this->store();
  for (const char* id : {"b", "a.b", "A", "a", "a-1", "0", "a_2"})
    ASSERT_TRUE(store.Create(FullDashboard(id)));
  const auto list = store.List();
  EXPECT_EQ(Ids(list), (std::vector<std::string>{"0", "A", "a", "a-1", "a.b", "a_2", "b"}));
  ExpectSame(list[2], FullDashboard("a"));
}

TYPED_TEST_P(DashboardStoreContract, UpdateReplacesContentAndKeepsCreatedAt) {
  auto& store = this->store();
  ASSERT_TRUE(store.Create(FullDashboard("shop")));
  core::Dashboard changed{"shop",
                          "Renamed",
                          {{"s", "stat", "Total", {"x"}, "", "", "", {0, 3, 12, 1}}},
                          Ms(5),  // ignored: created_at is kept
                          Ms(1'800'000'000'000)};
  EXPECT_EQ(store.Update(changed, std::nullopt), core::UpdateOutcome::kUpdated);
  auto want = changed;
  want.created_at = FullDashboard("shop").created_at;
  ExpectSame(store.Get("shop").value(), want);
  ExpectSame(store.List().at(0), want);
}

// Two editors loaded version v: the first save wins, the second is refused and changes nothing.
TYPED_TEST_P(DashboardStoreContract, UpdateAgainstAStaleVersionIsRefused) {
  auto& store = this->store();
  const auto loaded = FullDashboard("shop");
  ASSERT_TRUE(store.Create(loaded));
  const std::int64_t v = core::VersionOf(loaded);
  auto first = loaded;
  first.name = "First";
  first.updated_at = core::UpdatedAtAfter(loaded, loaded.updated_at);  // the same millisecond
  EXPECT_EQ(core::VersionOf(first), v + 1);
  EXPECT_EQ(store.Update(first, v), core::UpdateOutcome::kUpdated);
  auto second = loaded;
  second.name = "Second";
  second.updated_at = core::UpdatedAtAfter(loaded, loaded.updated_at);
  EXPECT_EQ(store.Update(second, v), core::UpdateOutcome::kStale);
  ExpectSame(store.Get("shop").value(), first);
  second.updated_at = core::UpdatedAtAfter(first, first.updated_at);
  EXPECT_EQ(store.Update(second, core::VersionOf(first)), core::UpdateOutcome::kUpdated);
  EXPECT_EQ(store.Get("shop")->name, "Second");
}

TYPED_TEST_P(DashboardStoreContract, DeleteRemovesOnlyThatDashboard) {
  auto& store = this->store();
  ASSERT_TRUE(store.Create(FullDashboard("a")));
  ASSERT_TRUE(store.Create(FullDashboard("b")));
  EXPECT_TRUE(store.Delete("a"));
  EXPECT_FALSE(store.Delete("a"));
  EXPECT_FALSE(store.Get("a"));
  EXPECT_EQ(Ids(store.List()), (std::vector<std::string>{"b"}));
  ASSERT_TRUE(store.Create(FullDashboard("a")));  // the id is free again
}

TYPED_TEST_P(DashboardStoreContract, PingAnswers) { EXPECT_TRUE(this->store().Ping()); }

REGISTER_TYPED_TEST_SUITE_P(DashboardStoreContract, CreateThenGetReturnsEveryField,
                            EmptyDashboardRoundTrips, DuplicateIdIsRefusedAndKeepsTheFirst,
                            UnknownIdIsAbsent, ListIsOrderedByIdBytewise,
                            UpdateReplacesContentAndKeepsCreatedAt,
                            UpdateAgainstAStaleVersionIsRefused, DeleteRemovesOnlyThatDashboard,
                            PingAnswers);

}  // namespace count::testing
