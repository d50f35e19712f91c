#include "sqlite/sqlite_stores.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <thread>

#include "testing/process.hpp"

namespace count::sqlite {
namespace {

using core::Mutation;
using core::MutationKind;

class SqliteStoresTest : public ::testing::Test {
 protected:
  core::CountInfo Info(std::string id, std::optional<std::int64_t> min = {},
                       std::optional<std::int64_t> max = {}) {
    const auto now = core::Now();
    return {std::move(id), "d", min, max, now, now};
  }
  void Create(std::string id, std::int64_t initial, std::optional<std::int64_t> min = {},
              std::optional<std::int64_t> max = {}) {
    ASSERT_TRUE(info.Create(Info(id, min, max)));
    ASSERT_TRUE(values.Create(Info(id, min, max), initial));
  }
  core::ApplyResult One(Mutation m, const core::IdempotencyKey* key = nullptr) {
    return values.Apply(std::span(&m, 1), key, false);
  }

  testing::TempDir dir;
  SqliteDatabase db{dir.path() / "count.db"};
  SqliteCountInfoStore info{db};
  SqliteCountValueStore values{db, "test"};
};

TEST_F(SqliteStoresTest, CreateGetDelete) {
  Create("a", 7);
  EXPECT_FALSE(info.Create(Info("a")));
  EXPECT_FALSE(values.Create(Info("a"), 1));
  auto r = values.Get("a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value, 7);
  EXPECT_EQ(r->description, "d");
  EXPECT_TRUE(values.Delete("a"));
  EXPECT_TRUE(info.Delete("a"));
  EXPECT_FALSE(values.Get("a"));
  EXPECT_FALSE(info.Get("a"));
}

TEST_F(SqliteStoresTest, ApplyRefusesUnknownAndOutOfBoundsWithoutChange) {
  Create("b", 5, 0, 10);
  auto r = One({MutationKind::kIncrement, "missing", 1});
  EXPECT_EQ(std::get<core::MutationError>(r.outcomes[0]), core::MutationError::kNotFound);
  r = One({MutationKind::kIncrement, "b", 6});
  EXPECT_EQ(std::get<core::MutationError>(r.outcomes[0]), core::MutationError::kAboveMax);
  EXPECT_EQ(values.Get("b")->value, 5);
  r = One({MutationKind::kDecrement, "b", 5});
  EXPECT_EQ(std::get<core::Applied>(r.outcomes[0]).value, 0);
}

TEST_F(SqliteStoresTest, AutoCreateStartsAtZero) {
  Mutation m{MutationKind::kIncrement, "auto", 3};
  auto r = values.Apply(std::span(&m, 1), nullptr, true);
  EXPECT_EQ(std::get<core::Applied>(r.outcomes[0]).value, 3);
  EXPECT_TRUE(r.created[0]);
}

TEST_F(SqliteStoresTest, IdempotentReplayAndConflict) {
  Create("c", 0);
  core::IdempotencyKey key{"k1", "fp1"};
  auto first = One({MutationKind::kIncrement, "c", 2}, &key);
  EXPECT_EQ(first.status, core::ApplyResult::Status::kApplied);
  auto again = One({MutationKind::kIncrement, "c", 2}, &key);
  EXPECT_EQ(again.status, core::ApplyResult::Status::kReplayed);
  EXPECT_EQ(std::get<core::Applied>(again.outcomes[0]).value, 2);
  EXPECT_EQ(values.Get("c")->value, 2);
  core::IdempotencyKey other{"k1", "fp2"};
  EXPECT_EQ(One({MutationKind::kIncrement, "c", 2}, &other).status,
            core::ApplyResult::Status::kKeyConflict);
  EXPECT_EQ(values.Get("c")->value, 2);
}

TEST_F(SqliteStoresTest, UpdateInfoRefusesBoundsExcludingCurrentValue) {
  Create("d", 50);
  EXPECT_EQ(values.UpdateInfo(Info("d", 0, 10)),
            core::CountValueStore::UpdateResult::kValueOutsideBounds);
  EXPECT_EQ(values.UpdateInfo(Info("d", 0, 100)), core::CountValueStore::UpdateResult::kUpdated);
  EXPECT_EQ(values.Get("d")->max_value, 100);
  EXPECT_EQ(values.UpdateInfo(Info("zz")), core::CountValueStore::UpdateResult::kNotFound);
}

TEST_F(SqliteStoresTest, ListPagesByPrefixLiterally) {
  for (int i = 0; i < 25; ++i) Create("p_" + std::to_string(100 + i), 0);
  Create("pX", 0);
  Create("q", 0);
  std::vector<std::string> seen;
  std::string cursor;
  for (;;) {
    auto page = info.List("p_", 10, cursor);
    for (auto& i : page.items) seen.push_back(i.id);
    if (!page.next_cursor) break;
    cursor = *page.next_cursor;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "p_100");
  EXPECT_EQ(seen.back(), "p_124");
}

TEST_F(SqliteStoresTest, ConcurrentIncrementsAreExact) {
  Create("e", 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) One({MutationKind::kIncrement, "e", 1});
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(values.Get("e")->value, 2000);
}

}  // namespace
}  // namespace count::sqlite
