// dashboard-update-service: live counter updates over Server-Sent Events (UC-005). Every
// replica reads every event (a Kafka subscriber outside any consumer group). Wiring only.
#include "kafka/kafka_subscriber.hpp"
#include "live_module.hpp"
#include "postgres/postgres_dashboard_store.hpp"
#include "redis/redis_count_value_store.hpp"
#include "runtime/log.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"

int main() {
  using namespace count;
  return runtime::RunMain("dashboard-update-service", [] {
    runtime::Env env;
    runtime::Service service("dashboard-update-service", 3005, env);
    auto redis = wiring::RedisReplicaFromEnv(env);  // snapshots
    redis::RedisCountValueStore values(*redis, core::Now, {}, wiring::KeyLayoutFromEnv(env));
    auto pg = wiring::PostgresFromEnv(env);
    postgres::PostgresDashboardStore dashboards(*pg);

    live::LiveModule live(service, values, dashboards);
    kafka::KafkaSubscriber events(
        {.cluster = wiring::KafkaFromEnv(env),
         .mode = kafka::SubscriberConfig::Mode::kBroadcast,
         .client_id = service.pod(),
         .log = [](std::string_view m) { runtime::Log::Write(runtime::Level::kWarn, "kafka", m); }},
        [&](std::span<const core::Event> batch) { live.Publish(batch); });
    events.Start();
    service.AddShutdownHook([&] { events.Stop(); });
    service.AddReadinessCheck("redis_replica", [&] { return values.Ping(); });
    // Only `?dashboardId=` needs the dashboard configurations: without them the streams of
    // `?countIds=` go on, so the check shows the failure without taking the instance out.
    service.AddReadinessCheck(
        "dashboardconfig", [&] { return dashboards.Ping(); }, /*required=*/false);
    // Not ready before every partition has a start offset: until then events could be missed.
    service.AddReadinessCheck("kafka",
                              [&] { return events.WaitReady(std::chrono::milliseconds(0)); });
    return service.Run();
  });
}
