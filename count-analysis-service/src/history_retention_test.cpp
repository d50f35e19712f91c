#include "history_retention.hpp"

#include <gtest/gtest.h>

#include "sqlite/sqlite_history_store.hpp"
#include "testing/process.hpp"

namespace count::analysis {
namespace {

using namespace std::chrono_literals;

class HistoryRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<core::HistoryPoint> points = {{"c", now - std::chrono::days(500), 1},
                                                    {"c", now - std::chrono::days(10), 2}};
    ASSERT_EQ(history.Import(points), 2u);
  }
  bool OldIsGone() {
    return !history.LastIn("c", now - std::chrono::days(600), now - std::chrono::days(400));
  }

  const core::Timestamp now = core::Now();
  count::testing::TempDir dir;
  sqlite::SqliteDatabase db{dir.path() / "count.db"};
  sqlite::SqliteHistoryStore history{db};
};

TEST_F(HistoryRetentionTest, RunOnceDropsWhatIsOlderThanTheRetention) {
  HistoryRetention retention(history, std::chrono::days(400), 1h);
  EXPECT_EQ(retention.RunOnce(now), 2u);  // the old minute and its import record
  EXPECT_TRUE(OldIsGone());
  EXPECT_EQ(history.Latest("c")->value, 2);
  EXPECT_EQ(retention.RunOnce(now), 0u);
}

TEST_F(HistoryRetentionTest, PrunesAtStartAndStopsPromptly) {
  HistoryRetention retention(history, std::chrono::days(400), 1h);
  retention.Start();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!OldIsGone() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(OldIsGone());
  const auto t0 = std::chrono::steady_clock::now();
  retention.Stop();  // does not wait out the hour
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

}  // namespace
}  // namespace count::analysis
