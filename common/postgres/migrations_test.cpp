#include "postgres/migrations.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "postgres/pg_test_server.hpp"

namespace count::postgres {
namespace {

using testing::SharedServer;

// A fresh database named after the running test.
PgPoolOptions FreshDatabase() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  SharedServer().CreateDatabase(name);
  PgPoolOptions o;
  o.database_url = SharedServer().Url(name);
  return o;
}

std::int64_t Count(PgPool& pool, const std::string& sql) { return pool.Exec(sql).Int64(0, 0); }

TEST(PgMigrations, CountInfoMigrationsAreEmbedded) {
  const std::vector<Migration> all = EmbeddedMigrations("countinfo");
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0].version, 1);
  EXPECT_EQ(all[0].name, "count_info");
  EXPECT_NE(all[0].sql.find("CREATE TABLE count_info"), std::string_view::npos);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].version, all[i].version);
  EXPECT_THROW(EmbeddedMigrations("nosuchdb"), std::invalid_argument);
}

TEST(PgMigrations, ApplyOnceThenNothing) {
  PgPool pool(FreshDatabase());
  const std::vector<Migration> first = Migrate(pool, "countinfo");
  ASSERT_EQ(first.size(), EmbeddedMigrations("countinfo").size());
  EXPECT_EQ(first[0].version, 1);
  EXPECT_EQ(Count(pool, "SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(first.size()));
  const PgResult row =
      pool.Exec("SELECT name, applied_at <= now() FROM schema_migrations WHERE version = 1");
  EXPECT_EQ(row.Text(0, 0), "count_info");
  EXPECT_EQ(row.Text(0, 1), "t");
  EXPECT_EQ(Count(pool, "SELECT count(*) FROM count_info"), 0);

  EXPECT_TRUE(Migrate(pool, "countinfo").empty());
  EXPECT_TRUE(Migrate(pool, "countinfo").empty());
  EXPECT_EQ(Count(pool, "SELECT count(*) FROM schema_migrations"),
            static_cast<std::int64_t>(first.size()));
  // The session the migrations ran on is back to the pool's settings.
  EXPECT_EQ(pool.Exec("SHOW statement_timeout").Text(0, 0), "5s");
  EXPECT_EQ(Count(pool, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0);
}

TEST(PgMigrations, ConcurrentRunnersApplyEachMigrationOnce) {
  const PgPoolOptions options = FreshDatabase();
  // Slow migrations, so the runners really overlap.
  const std::vector<Migration> migrations = {
      {1, "a", "CREATE TABLE a (x int); SELECT pg_sleep(0.3);"},
      {2, "b", "CREATE TABLE b (x int); SELECT pg_sleep(0.3);"},
  };
  PgPool pool1(options), pool2(options);
  std::vector<Migration> applied1, applied2;
  std::exception_ptr error1, error2;
  std::thread t1([&] {
    try {
      applied1 = Migrate(pool1, migrations);
    } catch (...) {
      error1 = std::current_exception();
    }
  });
  std::thread t2([&] {
    try {
      applied2 = Migrate(pool2, migrations);
    } catch (...) {
      error2 = std::current_exception();
    }
  });
  t1.join();
  t2.join();
  EXPECT_FALSE(error1);
  EXPECT_FALSE(error2);
  EXPECT_EQ(applied1.size() + applied2.size(), 2u);
  EXPECT_EQ(Count(pool1, "SELECT count(*) FROM schema_migrations"), 2);
}

TEST(PgMigrations, FailedMigrationLeavesNothingOfItself) {
  PgPool pool(FreshDatabase());
  const std::vector<Migration> migrations = {
      {1, "good", "CREATE TABLE good (x int);"},
      {2, "bad", "CREATE TABLE half (x int); SELEC broken;"},
      {3, "after", "CREATE TABLE after_bad (x int);"},
  };
  try {
    Migrate(pool, migrations);
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "42601");
    EXPECT_NE(std::string(e.what()).find("2_bad"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Count(pool, "SELECT count(*) FROM schema_migrations"), 1);
  EXPECT_EQ(Count(pool, "SELECT count(*) FROM pg_tables WHERE tablename = 'good'"), 1);
  EXPECT_EQ(Count(pool, "SELECT count(*) FROM pg_tables WHERE tablename IN ('half', 'after_bad')"),
            0);
  EXPECT_EQ(pool.Exec("SHOW statement_timeout").Text(0, 0), "5s");
  // Fixed, the run continues where it stopped.
  const std::vector<Migration> fixed = {
      migrations[0], {2, "bad", "CREATE TABLE half (x int);"}, migrations[2]};
  EXPECT_EQ(Migrate(pool, fixed).size(), 2u);
}

TEST(PgMigrations, CountInfoSchemaEnforcesTheDomainRules) {
  PgPool pool(FreshDatabase());
  Migrate(pool, "countinfo");
  auto insert = [&](const std::string& id, const std::string& description,
                    std::optional<std::string> min, std::optional<std::string> max) {
    pool.Exec(
        "INSERT INTO count_info (id, description, min_value, max_value)"
        " VALUES ($1, $2, $3, $4)",
        {id, description, min, max});
  };
  auto sqlstate = [&](auto&& f) -> std::string {
    try {
      f();
    } catch (const PgError& e) {
      return e.sqlstate();
    }
    return "";
  };
  EXPECT_EQ(sqlstate([&] { insert("ok.id:1-A_z", "", "-5", "5"); }), "");
  EXPECT_EQ(sqlstate([&] { insert(std::string(128, 'a'), std::string(1024, 'd'), "1", "1"); }), "");
  EXPECT_EQ(sqlstate([&] { insert(std::string(129, 'b'), "", {}, {}); }), "23514");
  EXPECT_EQ(sqlstate([&] { insert("-leading", "", {}, {}); }), "23514");
  EXPECT_EQ(sqlstate([&] { insert("has space", "", {}, {}); }), "23514");
  EXPECT_EQ(sqlstate([&] { insert("", "", {}, {}); }), "23514");
  EXPECT_EQ(sqlstate([&] { insert("long", std::string(1025, 'd'), {}, {}); }), "23514");
  EXPECT_EQ(sqlstate([&] { insert("bounds", "", "2", "1"); }), "23514");
  EXPECT_EQ(sqlstate([&] { insert("ok.id:1-A_z", "", {}, {}); }), "23505");
}

}  // namespace
}  // namespace count::postgres
