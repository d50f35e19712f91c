// count-management-service: UC-003 counter CRUD on PostgreSQL (CountInfoDB) and the
// value store. `count-management-service migrate` applies the schema and exits.
#include <string_view>

#include "management_module.hpp"
#include "postgres/migrations.hpp"
#include "postgres/postgres_count_info_store.hpp"
#include "redis/redis_count_value_store.hpp"
#include "runtime/log.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"

int main(int argc, char** argv) {
  using namespace count;
  return runtime::RunMain("count-management-service", [&] {
    runtime::Env env;
    if (argc > 1 && std::string_view(argv[1]) == "migrate") {
      auto pg = wiring::PostgresFromEnv(env);
      const auto applied = postgres::Migrate(*pg, "countinfo");
      runtime::Log::Write(runtime::Level::kInfo, "migrate", "migrations applied",
                          {{"database", "countinfo"}, {"applied", applied.size()}});
      return 0;
    }
    if (argc > 1)
      throw runtime::ConfigError(std::string("unknown command '") + argv[1] +
                                 "'; the only command is 'migrate'");
    runtime::Service service("count-management-service", 3002, env);
    auto pg = wiring::PostgresFromEnv(env);
    auto redis = wiring::RedisFromEnv(env, "REDIS_URL");
    postgres::PostgresCountInfoStore info(*pg);
    const auto layout = wiring::KeyLayoutFromEnv(env);
    redis::RedisCountValueStore values(
        *redis, core::Now, wiring::OutboxFromEnv(env, "count-management-service"), layout);
    wiring::KafkaRelay events(env, *redis, "count-management-service", service.pod(), layout);
    service.AddShutdownHook([&] { events.Stop(); });
    service.metrics().AddGauge("outbox_backlog", "Events waiting in the outbox for Kafka.",
                               [&] { return double(events.Backlog()); });
    management::ManagementModule module(service.router(), info, values);
    service.AddReadinessCheck("postgres", [&] { return info.Ping(); });
    service.AddReadinessCheck("redis", [&] { return values.Ping(); });
    return service.Run();
  });
}
