#include "postgres/pg_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "postgres/pg_binary.hpp"
#include "postgres/pg_test_server.hpp"
#include "testing/process.hpp"

namespace count::postgres {
namespace {

using testing::PostgresServer;
using testing::SharedServer;

PgPoolOptions Options(std::size_t size = 4) {
  PgPoolOptions o;
  o.database_url = SharedServer().Url("postgres");
  o.size = size;
  return o;
}

TEST(PgPool, RunsParameterisedStatementsInTextFormat) {
  PgPool pool(Options());
  const PgResult r = pool.Exec("SELECT $1::bigint + 1, $2::text IS NULL, $3::text",
                               {"9223372036854775806", std::nullopt, "x'y"});
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.Int64(0, 0), INT64_MAX);
  EXPECT_EQ(r.Text(0, 1), "t");
  EXPECT_EQ(r.String(0, 2), "x'y");
  EXPECT_FALSE(r.IsNull(0, 2));
  EXPECT_EQ(r.OptionalInt64(0, 0), INT64_MAX);
  EXPECT_TRUE(pool.Ping());
  EXPECT_NO_THROW(pool.Acquire().ExecScript("-- a script of comments only"));
}

TEST(PgPool, ReadsBigintsAndBigintArraysInBinaryFormat) {
  PgPool pool(Options());
  const PgResult r = pool.Exec(
      "SELECT $1::bigint, ARRAY[-9223372036854775808, NULL, 9223372036854775807, 0]::bigint[],"
      " '{}'::bigint[], '{1,2}'::int[], 7::int",
      {"-2"}, PgFormat::kBinary);
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(DecodeInt8(r.Text(0, 0)), -2);
  std::vector<std::optional<std::int64_t>> values = {99};
  DecodeInt8Array(r.Text(0, 1), values);
  EXPECT_EQ(values,
            (std::vector<std::optional<std::int64_t>>{INT64_MIN, std::nullopt, INT64_MAX, 0}));
  DecodeInt8Array(r.Text(0, 2), values);
  EXPECT_TRUE(values.empty());
  // Another type is refused, not misread.
  EXPECT_THROW(DecodeInt8Array(r.Text(0, 3), values), std::runtime_error);
  EXPECT_THROW(DecodeInt8(r.Text(0, 4)), std::runtime_error);
  EXPECT_THROW(DecodeInt8Array(r.Text(0, 1).substr(0, 30), values), std::runtime_error);
}

TEST(PgPool, SetsStatementTimeoutOnEveryConnection) {
  PgPool pool(Options());
  EXPECT_EQ(pool.Exec("SHOW statement_timeout").Text(0, 0), "5s");

  PgPoolOptions fast = Options();
  fast.statement_timeout = std::chrono::milliseconds(200);
  PgPool short_pool(fast);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(short_pool.Exec("SELECT pg_sleep(5)"), core::StoreUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_TRUE(short_pool.Ping());  // the connection survives a cancelled statement
}

TEST(PgPool, KeepsStartupOptionsFromTheUrl) {
  PgPoolOptions o = Options();
  o.database_url += "?options=-c%20search_path%3Dpg_catalog";
  PgPool pool(o);
  EXPECT_EQ(pool.Exec("SHOW search_path").Text(0, 0), "pg_catalog");
  EXPECT_EQ(pool.Exec("SHOW statement_timeout").Text(0, 0), "5s");
}

TEST(PgPool, ServerErrorIsPgErrorWithSqlstateAndConnectionStaysUsable) {
  PgPool pool(Options(1));
  try {
    pool.Exec("SELECT 1 / $1::int", {"0"});
    FAIL() << "expected PgError";
  } catch (const PgError& e) {
    EXPECT_EQ(e.sqlstate(), "22012");
  }
  EXPECT_EQ(pool.Exec("SELECT 2").Int64(0, 0), 2);
}

TEST(PgPool, CheckoutWaitIsBounded) {
  PgPoolOptions o = Options(1);
  o.checkout_timeout = std::chrono::milliseconds(100);
  PgPool pool(o);
  {
    PgLease held = pool.Acquire();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(pool.Acquire(), core::StoreUnavailable);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_FALSE(pool.Ping());
  }
  EXPECT_TRUE(pool.Ping());
}

TEST(PgPool, SharesAtMostSizeConnectionsAcrossThreads) {
  PgPool pool(Options(3));
  std::mutex mu;
  std::set<std::int64_t> backends;
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        try {
          const std::int64_t pid = pool.Exec("SELECT pg_backend_pid()").Int64(0, 0);
          std::lock_guard lock(mu);
          backends.insert(pid);
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GE(backends.size(), 1u);
  EXPECT_LE(backends.size(), 3u);
}

TEST(PgPool, RollsBackATransactionLeftOpen) {
  PgPool pool(Options(1));
  pool.Exec("CREATE TABLE IF NOT EXISTS pool_tx (x int)");
  {
    PgLease lease = pool.Acquire();
    lease.Exec("BEGIN");
    lease.Exec("INSERT INTO pool_tx VALUES (1)");
  }  // returned mid-transaction
  {
    PgLease lease = pool.Acquire();
    EXPECT_EQ(PQtransactionStatus(lease.native()), PQTRANS_IDLE);
    EXPECT_EQ(lease.Exec("SELECT count(*) FROM pool_tx").Int64(0, 0), 0);
    PgTransaction tx(lease);
    lease.Exec("INSERT INTO pool_tx VALUES (2)");
    tx.Commit();
  }
  {
    PgLease lease = pool.Acquire();
    {
      PgTransaction tx(lease);
      lease.Exec("INSERT INTO pool_tx VALUES (3)");
    }  // not committed
    EXPECT_EQ(lease.Exec("SELECT sum(x) FROM pool_tx").Int64(0, 0), 2);
  }
  pool.Exec("DROP TABLE pool_tx");
}

TEST(PgPool, UnreachableServerIsStoreUnavailableWithoutThePassword) {
  PgPoolOptions o;
  o.database_url = "postgresql://postgres:" + std::string(PostgresServer::kPassword) +
                   "@127.0.0.1:" + std::to_string(count::testing::FreePort()) + "/postgres";
  o.connect_timeout = std::chrono::seconds(2);
  PgPool pool(o);
  try {
    pool.Acquire();
    FAIL() << "expected StoreUnavailable";
  } catch (const core::StoreUnavailable& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find(PostgresServer::kPassword), std::string::npos) << what;
    EXPECT_NE(what.find("127.0.0.1"), std::string::npos) << what;
  }
  EXPECT_FALSE(pool.Ping());
  EXPECT_EQ(pool.target().find(PostgresServer::kPassword), std::string::npos);
}

TEST(PgPool, WrongPasswordIsStoreUnavailableWithoutThePassword) {
  PgPoolOptions o;
  o.database_url = "host=127.0.0.1 port=" + std::to_string(SharedServer().port()) +
                   " dbname=postgres user=postgres password=Wr0ng-Pa55";
  PgPool pool(o);
  try {
    pool.Acquire();
    FAIL() << "expected StoreUnavailable";
  } catch (const core::StoreUnavailable& e) {
    EXPECT_EQ(std::string(e.what()).find("Wr0ng-Pa55"), std::string::npos) << e.what();
  }
}

TEST(PgPool, MalformedUrlIsRejectedWithoutThePassword) {
  try {
    PgPool pool(PgPoolOptions{.database_url = "postgresql://u:Hidd3n@[::1/db"});
    FAIL() << "expected invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("Hidd3n"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace count::postgres
