// RecordEvents on SQLite: a purging deletion forgets the history at its place in the stream.
#include "history_feed.hpp"

#include <gtest/gtest.h>

#include "sqlite/sqlite_history_store.hpp"
#include "testing/process.hpp"

namespace count::analysis {
namespace {

core::Event At(std::string event_id, std::string count_id, std::string time, std::int64_t value,
               core::EventType type = core::EventType::kUpdated, bool purge = false) {
  core::Event e{std::move(event_id),         type,  std::move(count_id), value, value,
                *core::ParseTimestamp(time), "test"};
  e.purge_history = purge;
  return e;
}

class HistoryFeedTest : public ::testing::Test {
 protected:
  std::size_t Minutes(const std::string& id) {
    return history
        .Series(id, *core::ParseTimestamp("2026-01-01T00:00:00Z"),
                *core::ParseTimestamp("2027-01-01T00:00:00Z"), core::Unit::kMinute)
        .size();
  }
  testing::TempDir dir;
  sqlite::SqliteDatabase db{dir.path() / "count.db"};
  sqlite::SqliteHistoryStore history{db};
};

TEST_F(HistoryFeedTest, APurgingDeletionForgetsWhatCameBeforeItAndKeepsWhatFollows) {
  const std::vector<core::Event> events = {
      At("e1", "a", "2026-02-01T10:00:00Z", 1),
      At("e2", "b", "2026-02-01T10:00:00Z", 1),
      At("e3", "a", "2026-02-01T10:01:00Z", 0, core::EventType::kDeleted, /*purge=*/true),
      At("e4", "a", "2026-02-01T10:05:00Z", 7, core::EventType::kCreated),
  };
  EXPECT_EQ(RecordEvents(history, events), 4u);
  EXPECT_EQ(Minutes("a"), 1u) << "only the counter created again after the purge";
  EXPECT_EQ(Minutes("b"), 1u) << "another counter keeps its history";
}

TEST_F(HistoryFeedTest, ADeletionWithoutPurgeKeepsTheHistory) {
  const std::vector<core::Event> events = {
      At("e1", "a", "2026-02-01T10:00:00Z", 1),
      At("e2", "a", "2026-02-01T10:01:00Z", 0, core::EventType::kDeleted),
  };
  EXPECT_EQ(RecordEvents(history, events), 2u);
  EXPECT_EQ(Minutes("a"), 2u);
}

}  // namespace
}  // namespace count::analysis
