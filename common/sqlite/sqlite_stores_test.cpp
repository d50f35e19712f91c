#include "sqlite/sqlite_stores.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "testing/count_value_store_contract.hpp"
#include "testing/process.hpp"

namespace count::sqlite {
namespace {

TEST(ConnectionLock, UrgentHoldersGoFirstButNotTwiceWhileAnOrdinaryOneWaits) {
  ConnectionLock connection;
  std::vector<std::string> order;  // appended while holding `connection`
  auto until_waiting = [&](int n) {
    while (connection.waiting() < n) std::this_thread::yield();
  };
  connection.lock();
  std::thread request([&] {
    std::lock_guard lock(connection);
    order.push_back("request");
  });
  until_waiting(1);
  auto pipeline = [&](std::string name) {
    return std::thread([&, name] {
      ConnectionLock::Urgent lock(connection);
      order.push_back(name);
    });
  };
  std::thread relay = pipeline("urgent"), rollup = pipeline("urgent");
  until_waiting(3);
  connection.unlock();
  for (auto* t : {&request, &relay, &rollup}) t->join();
  EXPECT_EQ(order, (std::vector<std::string>{"urgent", "request", "urgent"}));
}

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
    return values.Apply(std::span(&m, 1), key);
  }

  testing::TempDir dir;
  SqliteDatabase db{dir.path() / "count.db"};
  SqliteCountInfoStore info{db};
  SqliteCountValueStore values{db, "test"};
};

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

// The counting rule, as every CountValueStore obeys it.
struct SqliteValueBackend {
  testing::TempDir dir;
  SqliteDatabase db{dir.path() / "count.db"};
  SqliteCountValueStore values{db, "test"};
  core::CountValueStore& store() { return values; }
  std::size_t max_batch() const { return 1000; }  // the API's largest batch
};

}  // namespace count::sqlite

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, CountValueStoreContract, count::sqlite::SqliteValueBackend);
}  // namespace count::testing
