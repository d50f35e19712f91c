#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "runtime/auth.hpp"
#include "runtime/config.hpp"
#include "runtime/cpus.hpp"
#include "runtime/metrics.hpp"
#include "runtime/service.hpp"

namespace count::runtime {
namespace {

TEST(Env, MissingRequiredSettingIsNamed) {
  ::unsetenv("COUNT_TEST_REQUIRED");
  Env env;
  try {
    env.Require("COUNT_TEST_REQUIRED");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("COUNT_TEST_REQUIRED"), std::string::npos);
  }
}

TEST(Env, MalformedIntegerIsNamed) {
  ::setenv("COUNT_TEST_PORT", "80x", 1);
  Env env;
  EXPECT_THROW(env.Int("COUNT_TEST_PORT", 1, 0, 65535), ConfigError);
  ::setenv("COUNT_TEST_PORT", "70000", 1);
  EXPECT_THROW(env.Int("COUNT_TEST_PORT", 1, 0, 65535), ConfigError);
  ::setenv("COUNT_TEST_PORT", "8080", 1);
  EXPECT_EQ(env.Int("COUNT_TEST_PORT", 1, 0, 65535), 8080);
}

TEST(Env, EffectiveConfigRedactsSecrets) {
  ::setenv("COUNT_TEST_URL", "redis://u:hunter2@host:6379/0", 1);
  ::setenv("COUNT_TEST_API_KEY", "hunter2", 1);
  Env env;
  env.Get("COUNT_TEST_URL");
  env.Get("COUNT_TEST_API_KEY");
  const auto text = boost::json::serialize(env.Effective());
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_NE(text.find("redis://u:***@host:6379/0"), std::string::npos) << text;
}

TEST(ApiKeys, AuthenticatesByHashWithScopes) {
  auto keys = ApiKeys::FromJson(R"([{"name":"w","scopes":["count:write"],"sha256":")" +
                                Sha256Hex("secret-w") + R"("}])");
  auto p = keys.Authenticate("secret-w");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "w");
  EXPECT_TRUE(p->Has("count:write"));
  EXPECT_FALSE(p->Has("count:read"));
  EXPECT_FALSE(keys.Authenticate("secret-x"));
  EXPECT_FALSE(keys.Authenticate(""));
}

TEST(ApiKeys, RejectsMalformedConfiguration) {
  EXPECT_THROW(ApiKeys::FromJson("not json"), std::invalid_argument);
  EXPECT_THROW(ApiKeys::FromJson(R"([{"name":"a","scopes":["count:write"],"sha256":"abc"}])"),
               std::invalid_argument);
  EXPECT_THROW(
      ApiKeys::FromJson(R"([{"name":"a","scopes":["root"],"sha256":")" + Sha256Hex("k") + R"("}])"),
      std::invalid_argument);
}

TEST(Sha256, KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Metrics, RendersCountersAndHistograms) {
  Metrics m;
  m.ObserveRequest("/api/v1/counts/{id}", "GET", 200, 0.0007);
  m.ObserveRequest("/api/v1/counts/{id}", "GET", 200, 0.02);
  m.ObserveRequest("/api/v1/counts/{id}", "GET", 404, 0.0001);
  const auto text = m.Render();
  EXPECT_NE(
      text.find(R"(http_requests_total{route="/api/v1/counts/{id}",method="GET",status="200"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(http_request_duration_seconds_bucket{route="/api/v1/counts/{id}",method="GET",le="0.001"} 2)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(http_request_duration_seconds_count{route="/api/v1/counts/{id}",method="GET"} 3)"),
      std::string::npos)
      << text;
  // Buckets are cumulative: each holds every observation at or below its bound.
  for (const auto* bucket : {R"(le="0.0005"} 1)", R"(le="0.025"} 3)", R"(le="5"} 3)"})
    EXPECT_NE(text.find(bucket), std::string::npos) << bucket << "\n" << text;
}

// A thread remembers the slots it used; a registry built after another one (perhaps at the
// same address) starts from zero all the same.
TEST(Metrics, ALaterRegistryCountsOnlyItsOwnRequests) {
  for (int round = 0; round < 2; ++round) {
    Metrics m;
    m.ObserveRequest("/health", "GET", 200, 0.0001);
    const auto text = m.Render();
    EXPECT_NE(text.find(R"(http_requests_total{route="/health",method="GET",status="200"} 1)"),
              std::string::npos)
        << "round " << round << "\n"
        << text;
  }
}

TEST(Metrics, RendersReadValuesWithTheirTypeNaNForAFailedReadAndLetsAReadRecord) {
  Metrics m;
  double dropped = 3;
  m.AddCounter("drops_total", "Drops.", [&] { return dropped; });
  // A read that records, as the readiness gauge does when a check fails: no deadlock.
  m.AddGauge("ready", "Ready.", [&] {
    m.CountDependencyError("redis");
    return 0.0;
  });
  m.AddGauge("backlog", "Backlog.", []() -> double { throw std::runtime_error("redis down"); });
  const auto text = m.Render();
  EXPECT_NE(text.find("# TYPE drops_total counter\ndrops_total 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE backlog gauge\nbacklog nan\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE ready gauge\nready 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(dependency_errors_total{dependency="redis"} 1)"), std::string::npos)
      << text;
}

TEST(Metrics, RendersALabelledGaugeOneSamplePerLabelValueEscaped) {
  Metrics m;
  Metrics::LabelledValues lags = {{"0", 12}, {"2", 0}};
  m.AddLabelledGauge("consumer_lag", "Lag.", "partition", [&] { return lags; });
  auto text = m.Render();
  EXPECT_NE(text.find("# TYPE consumer_lag gauge\nconsumer_lag{partition=\"0\"} 12\n"
                      "consumer_lag{partition=\"2\"} 0\n"),
            std::string::npos)
      << text;
  lags = {{"a\"b\\c\nd", 1}};
  text = m.Render();
  EXPECT_NE(text.find(R"(consumer_lag{partition="a\"b\\c\nd"} 1)"), std::string::npos) << text;
  lags.clear();  // no partitions assigned: the family without samples
  text = m.Render();
  EXPECT_NE(text.find("# TYPE consumer_lag gauge\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("consumer_lag{"), std::string::npos) << text;
}

TEST(Service, ReadinessFollowsRequiredChecksAndShowsOptionalOnes) {
  Env env;
  Service service("readiness-test", 0, env);
  bool store_up = true;
  service.AddReadinessCheck("store", [&] { return store_up; });
  service.AddReadinessCheck(
      "catalog", [] { return false; }, /*required=*/false);
  auto ready = [&] {
    http::Request r;
    r.target = r.path = "/ready";
    return service.router().Dispatch(r);
  };
  auto up = ready();
  EXPECT_EQ(up.status, 200) << up.body;
  EXPECT_NE(up.body.find(R"("catalog":"failing")"), std::string::npos) << up.body;
  EXPECT_NE(up.body.find(R"("store":"ok")"), std::string::npos) << up.body;
  EXPECT_NE(service.metrics().Render().find("\nservice_ready 1\n"), std::string::npos);
  store_up = false;
  auto down = ready();
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_NE(down.body.find(R"("store":"failing")"), std::string::npos) << down.body;
  EXPECT_NE(service.metrics().Render().find("\nservice_ready 0\n"), std::string::npos);
}

TEST(Service, ReadinessShowsDetailsWithoutTheirChangingIt) {
  Env env;
  Service service("readiness-detail-test", 0, env);
  std::int64_t lag = 42;
  service.AddReadinessDetail("consumer_lag", [&] {
    return boost::json::value{{"total", lag}, {"partitions", {{"0", lag}}}};
  });
  service.AddReadinessDetail(
      "broken", []() -> boost::json::value { throw std::runtime_error("cannot read"); });
  http::Request r;
  r.target = r.path = "/ready";
  const auto response = service.router().Dispatch(r);
  EXPECT_EQ(response.status, 200) << response.body;
  const auto body = boost::json::parse(response.body).as_object();
  EXPECT_EQ(body.at("details").at("consumer_lag").at("total").as_int64(), 42) << response.body;
  EXPECT_EQ(body.at("details").at("consumer_lag").at("partitions").at("0").as_int64(), 42);
  EXPECT_TRUE(body.at("details").at("broken").is_null()) << response.body;
}

// A cgroup directory with the given files, under a fresh temporary directory.
std::filesystem::path Cgroup(const std::vector<std::pair<std::string, std::string>>& files) {
  static int n = 0;
  const auto root = std::filesystem::temp_directory_path() /
                    ("count-cgroup-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
  std::filesystem::remove_all(root);
  for (const auto& [name, text] : files) {
    std::filesystem::create_directories((root / name).parent_path());
    std::ofstream(root / name) << text;
  }
  std::filesystem::create_directories(root);
  return root;
}

TEST(Cpus, CgroupV2QuotaRoundsUp) {
  EXPECT_EQ(CgroupCpuLimit(Cgroup({{"cpu.max", "50000 100000\n"}})), 1);
  EXPECT_EQ(CgroupCpuLimit(Cgroup({{"cpu.max", "150000 100000\n"}})), 2);
  EXPECT_EQ(CgroupCpuLimit(Cgroup({{"cpu.max", "400000 100000\n"}})), 4);
  EXPECT_EQ(CgroupCpuLimit(Cgroup({{"cpu.max", "max 100000\n"}})), 0);
}

TEST(Cpus, CgroupV1Quota) {
  EXPECT_EQ(CgroupCpuLimit(Cgroup(
                {{"cpu/cpu.cfs_quota_us", "250000\n"}, {"cpu/cpu.cfs_period_us", "100000\n"}})),
            3);
  EXPECT_EQ(CgroupCpuLimit(Cgroup({{"cpu,cpuacct/cpu.cfs_quota_us", "-1\n"},
                                   {"cpu,cpuacct/cpu.cfs_period_us", "100000\n"}})),
            0);
}

TEST(Cpus, NoOrMalformedQuotaIsNoLimit) {
  EXPECT_EQ(CgroupCpuLimit(Cgroup({})), 0);
  EXPECT_EQ(CgroupCpuLimit(Cgroup({{"cpu.max", "lots 100000\n"}})), 0);
  EXPECT_EQ(CgroupCpuLimit(Cgroup({{"cpu.max", "50000 0\n"}})), 0);
}

TEST(Cpus, UsableCpusIsCappedByTheQuota) {
  const int unlimited = UsableCpus(Cgroup({}));
  EXPECT_GE(unlimited, 1);
  EXPECT_EQ(UsableCpus(Cgroup({{"cpu.max", "50000 100000\n"}})), 1);
  EXPECT_EQ(UsableCpus(Cgroup({{"cpu.max", "100000000 100000\n"}})), unlimited);
}

}  // namespace
}  // namespace count::runtime
