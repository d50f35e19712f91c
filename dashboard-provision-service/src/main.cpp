// dashboard-provision-service: UC-005 dashboard configurations in PostgreSQL
// (DashboardConfigDB), the summary over CountInfoDB and the Redis replica, and the dashboard
// page of the web console. Wiring only.
// `dashboard-provision-service migrate` applies the dashboardconfig schema and exits.
#include <string_view>

#include "dashboard_module.hpp"
#include "postgres/migrations.hpp"
#include "postgres/postgres_count_info_store.hpp"
#include "postgres/postgres_dashboard_store.hpp"
#include "redis/redis_count_value_store.hpp"
#include "runtime/log.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"

int main(int argc, char** argv) {
  using namespace count;
  return runtime::RunMain("dashboard-provision-service", [&] {
    runtime::Env env;
    if (argc > 1 && std::string_view(argv[1]) == "migrate") {
      auto pg = wiring::PostgresFromEnv(env);
      const auto applied = postgres::Migrate(*pg, "dashboardconfig");
      runtime::Log::Write(runtime::Level::kInfo, "migrate", "migrations applied",
                          {{"database", "dashboardconfig"}, {"applied", applied.size()}});
      return 0;
    }
    if (argc > 1)
      throw runtime::ConfigError(std::string("unknown command '") + argv[1] +
                                 "'; the only command is 'migrate'");
    runtime::Service service("dashboard-provision-service", 3004, env);
    auto dashboard_db = wiring::PostgresFromEnv(env);  // DATABASE_URL: dashboardconfig
    auto countinfo_db = wiring::PostgresFromEnv(env, "COUNTINFO_DATABASE_URL");
    auto redis = wiring::RedisReplicaFromEnv(env);
    postgres::PostgresDashboardStore dashboards(*dashboard_db);
    postgres::PostgresCountInfoStore counts(*countinfo_db);
    redis::RedisCountValueStore values(*redis, core::Now, {}, wiring::KeyLayoutFromEnv(env));
    // The cache tier (optional): the summary is computed once per SUMMARY_CACHE_MS for all
    // replicas together.
    const auto cache = wiring::ResultCacheFromEnv(env);
    dashboard::DashboardModule module(
        service.router(), {dashboards, counts, values},
        {cache.cache.get(),
         std::chrono::milliseconds(env.Int("SUMMARY_CACHE_MS", 1000, 1, 60'000))});
    service.AddReadinessCheck("dashboardconfig", [&] { return dashboards.Ping(); });
    service.AddReadinessCheck("countinfo", [&] { return counts.Ping(); });
    service.AddReadinessCheck("redis_replica", [&] { return values.Ping(); });
    return service.Run();
  });
}
