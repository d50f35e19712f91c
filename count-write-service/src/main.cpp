// count-write-service: UC-001 writes on the Redis primary. Wiring only.
#include <memory>
#include <optional>

#include "http/event_loop.hpp"
#include "postgres/postgres_count_info_store.hpp"
#include "redis/redis_count_value_store.hpp"
#include "redis/redis_event_acks.hpp"
#include "redis/redis_loop_count_value_store.hpp"
#include "redis/redis_replica_acks.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"
#include "write_module.hpp"

int main() {
  using namespace count;
  return runtime::RunMain("count-write-service", [] {
    runtime::Env env;
    runtime::Service service("count-write-service", 3000, env);
    auto redis = wiring::RedisFromEnv(env, "REDIS_URL");
    auto pg = wiring::PostgresFromEnv(env);
    const auto layout = wiring::KeyLayoutFromEnv(env);
    redis::RedisCountValueStore values(*redis, core::Now,
                                       wiring::OutboxFromEnv(env, "count-write-service"), layout);
    wiring::KafkaRelay events(env, *redis, "count-write-service", service.pod(), layout);
    service.AddShutdownHook([&] { events.Stop(); });
    service.metrics().AddGauge("outbox_backlog", "Events waiting in the outbox for Kafka.",
                               [&] { return double(events.outbox().Backlog()); });
    postgres::PostgresCountInfoStore info(*pg);
    // Writes and strong reads go out on each event loop's own connection, group-committed
    // per loop (no thread handoff per request).
    redis::RedisLoopClient loop_redis(*redis, http::ThisLoop);
    redis::RedisLoopCountValueStore loop_values(values, loop_redis);
    const auto settings = write::WriteSettings::FromEnv(env);
    std::optional<redis::RedisEventAcks> acks;  // WRITE_ACK=kafka
    if (settings.ack_kafka && layout.clustered())
      throw runtime::ConfigError(
          "WRITE_ACK=kafka is not available on a Redis Cluster (REDIS_CLUSTER_NODES) yet; "
          "WRITE_ACK=replica is");
    if (settings.ack_kafka) {
      acks.emplace(*redis, redis::EventAcksOptions{.wait = settings.ack_timeout});
      service.metrics().AddGauge("writes_awaiting_kafka",
                                 "Applied writes whose answer waits for Kafka (WRITE_ACK=kafka).",
                                 [&] { return double(acks->Waiting()); });
    }
    // WRITE_ACK=replica: WAIT blocks its connection, so the acks get a client of their own.
    std::unique_ptr<redis::RedisClient> replica_acks_redis;
    std::optional<redis::RedisReplicaAcks> replica_acks;
    if (settings.ack_replica) {
      replica_acks_redis = wiring::RedisFromEnv(env, "REDIS_URL");
      replica_acks.emplace(*replica_acks_redis, layout,
                           redis::ReplicaAcksOptions{.wait = settings.ack_timeout});
      service.metrics().AddGauge(
          "writes_awaiting_replica",
          "Applied writes whose answer waits for a Redis replica (WRITE_ACK=replica).",
          [&] { return double(replica_acks->Waiting()); });
    }
    core::EventAcks* durable = acks           ? static_cast<core::EventAcks*>(&*acks)
                               : replica_acks ? &*replica_acks
                                              : nullptr;
    write::WriteModule module(service.router(), {values, info, &loop_values, durable}, settings);
    service.AddReadinessCheck("redis", [&] { return values.Ping(); });
    // Known counters are written without PostgreSQL (it is needed to create one or change a
    // description): its outage shows in readiness but must not take writes out of service.
    service.AddReadinessCheck(
        "postgres", [&] { return info.Ping(); }, /*required=*/false);
    return service.Run();
  });
}
