#include "postgres/postgres_count_info_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "postgres/migrations.hpp"
#include "postgres/pg_test_server.hpp"

namespace count::postgres {
namespace {

using core::CountInfo;
using core::Timestamp;
using testing::PostgresServer;
using testing::SharedServer;

Timestamp Ms(std::int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }

CountInfo Info(std::string id, std::string description = "") {
  CountInfo info;
  info.id = std::move(id);
  info.description = std::move(description);
  info.created_at = info.updated_at = core::Now();
  return info;
}

// One countinfo database and pool per test process; every test starts with an empty table.
class PostgresCountInfoStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SharedServer().CreateDatabase("countinfo");
    PgPoolOptions o;
    o.database_url = SharedServer().Url("countinfo");
    o.size = 2;
    pool_ = new PgPool(o);
    Migrate(*pool_, "countinfo");
  }
  static void TearDownTestSuite() {
    delete pool_;
    pool_ = nullptr;
    SharedServer().Sql("postgres", "DROP DATABASE countinfo");
  }
  void SetUp() override { pool_->Exec("TRUNCATE count_info"); }

  std::vector<std::string> Ids(const core::CountPage& page) {
    std::vector<std::string> ids;
    for (const auto& i : page.items) ids.push_back(i.id);
    return ids;
  }

  static PgPool* pool_;
  PostgresCountInfoStore store_{*pool_};
};
PgPool* PostgresCountInfoStoreTest::pool_ = nullptr;

TEST_F(PostgresCountInfoStoreTest, CreateGetAndDuplicate) {
  CountInfo info = Info("visits:home", "home page visits");
  info.min_value = -10;
  info.max_value = 1000;
  EXPECT_TRUE(store_.Create(info));
  const auto got = store_.Get("visits:home");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, "visits:home");
  EXPECT_EQ(got->description, "home page visits");
  EXPECT_EQ(got->min_value, -10);
  EXPECT_EQ(got->max_value, 1000);

  CountInfo again = Info("visits:home", "other");
  EXPECT_FALSE(store_.Create(again));
  EXPECT_EQ(store_.Get("visits:home")->description, "home page visits");
  EXPECT_FALSE(store_.Get("visits:HOME"));  // case-sensitive
  EXPECT_FALSE(store_.Get("missing"));
}

TEST_F(PostgresCountInfoStoreTest, UpdateAndDelete) {
  CountInfo info = Info("c1", "before");
  info.created_at = Ms(1'000);
  info.updated_at = Ms(1'000);
  ASSERT_TRUE(store_.Create(info));

  info.description = "after";
  info.min_value = 0;
  info.max_value = std::nullopt;
  info.created_at = Ms(5'000);  // ignored: creation time is kept
  info.updated_at = Ms(2'000);
  EXPECT_TRUE(store_.Update(info));
  const auto got = store_.Get("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->description, "after");
  EXPECT_EQ(got->min_value, 0);
  EXPECT_EQ(got->max_value, std::nullopt);
  EXPECT_EQ(got->created_at, Ms(1'000));
  EXPECT_EQ(got->updated_at, Ms(2'000));

  EXPECT_FALSE(store_.Update(Info("nope")));
  EXPECT_TRUE(store_.Delete("c1"));
  EXPECT_FALSE(store_.Delete("c1"));
  EXPECT_FALSE(store_.Get("c1"));
}

TEST_F(PostgresCountInfoStoreTest, TimestampsRoundTripToTheMillisecond) {
  const std::vector<std::int64_t> samples = {1'700'000'000'123, 1'700'000'000'999,  1, 0,
                                             -1'234'567,        253'402'300'799'999};
  for (std::size_t i = 0; i < samples.size(); ++i) {
    CountInfo info = Info("t" + std::to_string(i));
    info.created_at = Ms(samples[i]);
    info.updated_at = Ms(samples[i] + 1);
    ASSERT_TRUE(store_.Create(info));
    const auto got = store_.Get(info.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->created_at, info.created_at) << samples[i];
    EXPECT_EQ(got->updated_at, info.updated_at) << samples[i];
  }
  const CountInfo now = Info("now");
  ASSERT_TRUE(store_.Create(now));
  EXPECT_EQ(store_.Get("now")->created_at, now.created_at);
}

TEST_F(PostgresCountInfoStoreTest, ListMatchesThePrefixLiterally) {
  for (const char* id : {"a_1", "a_2", "ab1", "aXb", "b", "A_1"})
    ASSERT_TRUE(store_.Create(Info(id)));
  using V = std::vector<std::string>;
  EXPECT_EQ(Ids(store_.List("a_", 10, "")), (V{"a_1", "a_2"}));
  // Byte order: 'A' < 'X' < '_' < 'a'.
  EXPECT_EQ(Ids(store_.List("a", 10, "")), (V{"aXb", "a_1", "a_2", "ab1"}));
  EXPECT_EQ(Ids(store_.List("", 10, "")), (V{"A_1", "aXb", "a_1", "a_2", "ab1", "b"}));
  EXPECT_TRUE(store_.List("a%", 10, "").items.empty());
  EXPECT_TRUE(store_.List("%", 10, "").items.empty());
  EXPECT_TRUE(store_.List("a\\", 10, "").items.empty());
  EXPECT_TRUE(store_.List("_", 10, "").items.empty());
  EXPECT_TRUE(store_.List("c", 10, "").items.empty());
  EXPECT_EQ(Ids(store_.List("a", 10, "a_1")), (V{"a_2", "ab1"}));
  EXPECT_TRUE(store_.List("a", 0, "").items.empty());
  EXPECT_EQ(LikePrefixPattern("a_%\\b"), "a\\_\\%\\\\b%");
}

TEST_F(PostgresCountInfoStoreTest, PagingVisitsEveryIdOnceInByteOrder) {
  std::vector<std::string> expected;
  for (int i = 0; i < 250; ++i) {
    // Mixed case and separators, so byte order differs from any locale's order.
    const std::string id = std::string("p") +
                           (i % 3 == 0   ? "A"
                            : i % 3 == 1 ? "b"
                                         : "-") +
                           std::to_string((i * 7919) % 1000) + "." + std::to_string(i);
    expected.push_back(id);
    ASSERT_TRUE(store_.Create(Info(id)));
  }
  ASSERT_TRUE(store_.Create(Info("q-not-listed")));
  ASSERT_TRUE(store_.Create(Info("o-not-listed")));
  std::sort(expected.begin(), expected.end());

  std::vector<std::string> seen;
  std::vector<std::size_t> sizes;
  std::string cursor;
  for (int pages = 0; pages < 10; ++pages) {
    const core::CountPage page = store_.List("p", 100, cursor);
    sizes.push_back(page.items.size());
    for (const auto& item : page.items) seen.push_back(item.id);
    if (!page.next_cursor) break;
    EXPECT_EQ(*page.next_cursor, page.items.back().id);
    cursor = *page.next_cursor;
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{100, 100, 50}));
  EXPECT_EQ(seen, expected);

  // A page that ends exactly at the last row has no cursor.
  const core::CountPage exact = store_.List("p", 250, "");
  EXPECT_EQ(exact.items.size(), 250u);
  EXPECT_FALSE(exact.next_cursor);
}

TEST_F(PostgresCountInfoStoreTest, PrefixSearchAndOrderAreIndexBacked) {
  PgLease lease = pool_->Acquire();
  // Too few rows for the planner to prefer the index by itself: show that it can.
  lease.Exec("SET enable_seqscan = off");
  lease.Exec("SET enable_bitmapscan = off");
  const PgResult plan = lease.Exec(
      "EXPLAIN SELECT id FROM count_info WHERE id LIKE $1 AND id > $2 ORDER BY id LIMIT 101",
      {LikePrefixPattern("p_x"), ""});
  std::string text;
  for (int r = 0; r < plan.rows(); ++r) text += plan.String(r, 0) + "\n";
  lease.Exec("RESET ALL");
  EXPECT_NE(text.find("Index"), std::string::npos) << text;
  EXPECT_NE(text.find("count_info_pkey"), std::string::npos) << text;
  EXPECT_EQ(text.find("Sort"), std::string::npos) << text;
  EXPECT_NE(text.find("id >= 'p_x'"), std::string::npos) << text;  // a range, not a filter
}

TEST_F(PostgresCountInfoStoreTest, SurvivesAServerRestartWithoutANewPool) {
  ASSERT_TRUE(store_.Create(Info("durable")));
  {
    // Both connections of the pool open before the restart.
    PgLease a = pool_->Acquire();
    PgLease b = pool_->Acquire();
    a.Exec("SELECT 1");
    b.Exec("SELECT 1");
  }
  PostgresServer& server = SharedServer();
  server.Stop();
  EXPECT_FALSE(store_.Ping());
  try {
    store_.Get("durable");
    FAIL() << "expected StoreUnavailable";
  } catch (const core::StoreUnavailable& e) {
    EXPECT_EQ(std::string(e.what()).find(PostgresServer::kPassword), std::string::npos) << e.what();
  }
  EXPECT_THROW(store_.Create(Info("while-down")), core::StoreUnavailable);
  EXPECT_THROW(store_.List("", 10, ""), core::StoreUnavailable);

  server.Start();
  EXPECT_TRUE(store_.Ping());
  for (int i = 0; i < 4; ++i) {  // every pooled connection, not just the first
    const auto got = store_.Get("durable");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id, "durable");
  }
  EXPECT_TRUE(store_.Create(Info("after-restart")));
  EXPECT_EQ(store_.List("", 10, "").items.size(), 2u);
}

}  // namespace
}  // namespace count::postgres
