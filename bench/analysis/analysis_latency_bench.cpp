// Benchmark (not a test): analysis latency on real PostgreSQL, printed for docs/BENCHMARKS.md.
// Run with `ctest --preset release -L bench --verbose` (bench/run.sh does).
// AnalysisApi on PostgreSQL at the sizes of the performance targets, timed end to end
// through the router (store, numerics, JSON): a year of minutes for one counter, and 50
// counters over 30 days. Each request runs kRuns times; the median and the fastest are
// printed (the machine is shared: one run can wait for a core).
#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <iostream>

#include "analysis_api.hpp"
#include "postgres/migrations.hpp"
#include "postgres/pg_test_server.hpp"
#include "postgres/postgres_history_store.hpp"

namespace count::analysis {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
constexpr int kRuns = 5;

// Wall time, and the CPU time of this process (router, numerics, JSON, libpq; not the
// PostgreSQL server's), which a busy machine disturbs less.
struct Timing {
  long median_ms = 0, best_ms = 0, median_cpu_ms = 0;
};
std::ostream& operator<<(std::ostream& out, const Timing& t) {
  return out << "median " << t.median_ms << " ms (best " << t.best_ms << " ms of " << kRuns
             << "; CPU of this process " << t.median_cpu_ms << " ms)";
}

long CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1'000'000;
}

class AnalysisApiPostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    postgres::testing::SharedServer().CreateDatabase("analysis");
    postgres::PgPoolOptions o;
    o.database_url = postgres::testing::SharedServer().Url("analysis");
    pool_ = new postgres::PgPool(o);
    postgres::Migrate(*pool_, "countinfo");
  }
  static void TearDownTestSuite() {
    delete pool_;
    postgres::testing::SharedServer().Sql("postgres", "DROP DATABASE analysis");
  }
  void SetUp() override {
    static const http::Principal admin{"admin", {"admin"}};
    router.SetAuthenticator([](std::string_view) { return &admin; });
    api.Register(router);
  }

  // Dispatches a POST kRuns times; returns the last response and the durations.
  std::pair<http::Response, Timing> Post(std::string what, std::string body) {
    http::Response response;
    std::vector<long> ms, cpu_ms;
    for (int run = 0; run < kRuns; ++run) {
      http::Request r;
      r.method = http::Method::kPost;
      r.path = "/analysis/api/v1/" + what;
      r.body = body;
      r.headers = {{"Authorization", "Bearer k"}, {"Content-Type", "application/json"}};
      const auto t0 = Clock::now();
      const long cpu0 = CpuMs();
      response = router.Dispatch(r);
      cpu_ms.push_back(CpuMs() - cpu0);
      ms.push_back(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::sort(cpu_ms.begin(), cpu_ms.end());
    return {std::move(response), Timing{ms[ms.size() / 2], ms.front(), cpu_ms[kRuns / 2]}};
  }

  static postgres::PgPool* pool_;
  postgres::PostgresHistoryStore history{*pool_};
  AnalysisApi api{history};
  http::Router router;
};
postgres::PgPool* AnalysisApiPostgresTest::pool_ = nullptr;

TEST_F(AnalysisApiPostgresTest, TrendOverAYearOfMinutes) {
  // 2023 has 525,600 minutes; minute i holds 1000 + i.
  const auto start = core::ParseTimestamp("2023-01-01T00:00:00Z").value();
  std::vector<core::HistoryPoint> points;
  for (int i = 0; i < 525'600; ++i)
    points.push_back({"year", start + std::chrono::minutes(i), 1000 + i});
  ASSERT_EQ(history.Import(points), points.size());
  pool_->Exec("VACUUM ANALYZE history_minute");
  pool_->Exec("VACUUM ANALYZE history_hour");
  pool_->Exec("VACUUM ANALYZE history_hour_minutes");

  for (std::string unit : {"minute", "hour", "day"}) {
    const auto [response, timing] =
        Post("trend", R"({"countIds":["year"],"from":"2023-01-01T00:00:00Z",)"
                      R"("to":"2024-01-01T00:00:00Z","unit":")" +
                          unit + "\"}");
    ASSERT_EQ(response.status, 200) << response.body;
    const auto result = json::parse(response.body).at("results").as_array()[0].as_object();
    std::cout << "trend over 2023 by " << unit << ": " << result.at("points").as_array().size()
              << " points, " << response.body.size() / 1024 << " KiB, " << timing << "\n";
    EXPECT_EQ(result.at("classification"), "increasing");
    EXPECT_EQ(result.at("min"), 1000 + (unit == "minute" ? 0 : unit == "hour" ? 59 : 1439));
    EXPECT_EQ(result.at("max"), 1000 + 525'599);
  }
}

TEST_F(AnalysisApiPostgresTest, ComparisonOfFiftyCountersOverThirtyDays) {
  // Counter k holds k × 1000 + i at its i-th ten-minute step over 30 days.
  const auto start = core::ParseTimestamp("2024-04-01T00:00:00Z").value();
  std::vector<core::HistoryPoint> points;
  std::string ids;
  for (int k = 0; k < 50; ++k) {
    const std::string id = std::string("c").append(std::to_string(k));
    for (int i = 0; i < 30 * 144; ++i)
      points.push_back({id, start + std::chrono::minutes(10 * i), k * 1000 + i});
    ids.append(k > 0 ? ",\"" : "\"").append(id).append("\"");
  }
  ASSERT_EQ(history.Import(points), points.size());
  pool_->Exec("VACUUM ANALYZE history_minute");

  const auto [response, timing] =
      Post("comparison", "{\"countIds\":[" + ids +
                             R"(],"from":"2024-04-01T00:00:00Z","to":"2024-05-01T00:00:00Z"})");
  ASSERT_EQ(response.status, 200) << response.body;
  std::cout << "comparison of 50 counters over 30 days: " << timing << "\n";
  const auto body = json::parse(response.body).as_object();
  EXPECT_EQ(body.at("max"), 49 * 1000 + 4319);  // the last step of c49
  EXPECT_EQ(body.at("min"), 4319);
}

}  // namespace
}  // namespace count::analysis
