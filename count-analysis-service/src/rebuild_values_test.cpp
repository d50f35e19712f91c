#include "rebuild_values.hpp"

#include <gtest/gtest.h>

#include <map>

#include "sqlite/sqlite_history_store.hpp"
#include "sqlite/sqlite_stores.hpp"
#include "testing/process.hpp"

namespace count::analysis {
namespace {

class RebuildValuesTest : public ::testing::Test {
 protected:
  void Counter(std::string id, std::optional<std::int64_t> min = {},
               std::optional<std::int64_t> max = {}, core::Timestamp at = core::Now()) {
    ASSERT_TRUE(info.Create({std::move(id), "d", min, max, at, at}));
  }
  void Event(std::string id, std::int64_t delta, std::int64_t value, core::Timestamp at) {
    const core::Event e{
        core::NewEventId(), core::EventType::kUpdated, std::move(id), delta, value, at, "test"};
    history.Record(std::span(&e, 1));
  }
  RestoreValue Into(std::map<std::string, std::int64_t>& store) {
    return [&store](const core::CountInfo& c, std::int64_t value) {
      return store.emplace(c.id, value).second;
    };
  }

  count::testing::TempDir dir;
  sqlite::SqliteDatabase db{dir.path() / "count.db"};
  sqlite::SqliteCountInfoStore info{db};
  sqlite::SqliteHistoryStore history{db};
};

TEST_F(RebuildValuesTest, EveryCounterGetsItsLatestValueFromTheHistory) {
  const auto t = core::Now() - std::chrono::hours(3);
  Counter("a");
  Counter("b");
  Event("a", 5, 5, t);
  Event("a", 2, 7, t + std::chrono::hours(1));  // another minute, later
  Event("b", -4, -4, t);
  Event("b", 1, -3, t + std::chrono::milliseconds(1));  // the same minute, later
  Event("gone", 1, 1, t);                               // a deleted counter: no record, so no value
  std::map<std::string, std::int64_t> store;
  const auto rebuilt = RebuildValues(info, history, Into(store));
  EXPECT_EQ(store, (std::map<std::string, std::int64_t>{{"a", 7}, {"b", -3}}));
  EXPECT_EQ(rebuilt.restored, 2u);
  EXPECT_TRUE(rebuilt.unknown.empty());
}

// A rebuilt counter was last updated when its last event happened, not when it was created.
TEST_F(RebuildValuesTest, ARebuiltCounterKeepsTheTimeOfItsLastChange) {
  const auto created = core::Now() - std::chrono::hours(2);
  const auto changed = created + std::chrono::minutes(75);
  Counter("t", {}, {}, created);
  Event("t", 3, 3, changed);
  std::map<std::string, core::Timestamp> updated;
  RebuildValues(info, history, [&updated](const core::CountInfo& c, std::int64_t) {
    return updated.emplace(c.id, c.updated_at).second;
  });
  EXPECT_EQ(updated.at("t"), changed);
}

TEST_F(RebuildValuesTest, LeavesPresentCountersAndReportsThoseWithoutHistory) {
  Counter("kept");
  Counter("pruned", 10, 20);
  Counter("plain");
  Event("kept", 1, 1, core::Now());
  std::map<std::string, std::int64_t> store{{"kept", 99}};
  const auto rebuilt = RebuildValues(info, history, Into(store));
  EXPECT_EQ(store.at("kept"), 99);
  EXPECT_EQ(store.at("pruned"), 10);  // the create default: the bound nearest to 0
  EXPECT_EQ(store.at("plain"), 0);
  EXPECT_EQ(rebuilt.present, 1u);
  EXPECT_EQ(rebuilt.restored, 2u);
  EXPECT_EQ(rebuilt.unknown, (std::vector<std::string>{"plain", "pruned"}));
}

}  // namespace
}  // namespace count::analysis
