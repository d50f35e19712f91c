// count-write-service: UC-001 writes on the Redis primary. Wiring only.
#include "postgres/postgres_count_info_store.hpp"
#include "redis/redis_count_value_store.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"
#include "write_api.hpp"

int main() {
  return count::runtime::RunMain("count-write-service", [] {
    count::runtime::Env env;
    count::runtime::Service service("count-write-service", 3000, env);
    auto redis = count::wiring::RedisFromEnv(env, "REDIS_URL");
    auto pg = count::wiring::PostgresFromEnv(env);
    count::redis::RedisCountValueStore values(
        *redis, count::core::Now, count::wiring::OutboxFromEnv(env, "count-write-service"));
    count::wiring::KafkaRelay events(env, *redis, "count-write-service", service.pod());
    service.AddShutdownHook([&] { events.Stop(); });
    service.metrics().AddGauge("outbox_backlog", "Events waiting in the outbox for Kafka.",
                               [&] { return double(events.outbox().Backlog()); });
    count::postgres::PostgresCountInfoStore info(*pg);
    count::write::CountWrites writes(values, info, env.Bool("COUNT_AUTO_CREATE", false));
    count::write::WriteApi api(writes, {});
    api.Register(service.router());
    service.AddReadinessCheck("redis", [&] { return values.Ping(); });
    // Known counters are written without PostgreSQL (it is needed to create one or change a
    // description): its outage shows in readiness but must not take writes out of service.
    service.AddReadinessCheck(
        "postgres", [&] { return info.Ping(); }, /*required=*/false);
    return service.Run();
  });
}
