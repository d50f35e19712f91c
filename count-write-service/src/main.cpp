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
                               [&] { return double(events.Backlog()); });
    postgres::PostgresCountInfoStore info(*pg);
    // Writes and strong reads go out on each event loop's own connection, group-committed
    // per loop (no thread handoff per request).
    redis::RedisLoopClient loop_redis(*redis, http::ThisLoop);
    redis::RedisLoopCountValueStore loop_values(values, loop_redis);
    const auto settings = write::WriteSettings::FromEnv(env);
    // WRITE_ACK (docs/API.md, "Durability"). replica, and kafka on a Redis Cluster first: once
    // a replica holds the change (WAIT blocks its connection: a client of their own); kafka:
    // once Kafka holds its event.
    std::unique_ptr<redis::RedisClient> replica_redis;
    std::optional<redis::RedisReplicaAcks> replica_acks;
    if (settings.ack_replica || (settings.ack_kafka && layout.clustered())) {
      replica_redis = wiring::RedisFromEnv(env, "REDIS_URL");
      replica_acks.emplace(*replica_redis, layout, redis::ReplicaAcksOptions{settings.ack_timeout});
      service.metrics().AddGauge("writes_awaiting_replica",
                                 "Applied writes whose answer waits for a Redis replica.",
                                 [&] { return double(replica_acks->Waiting()); });
    }
    std::optional<redis::ShardedEventAcks> kafka_acks;
    if (settings.ack_kafka) {
      kafka_acks.emplace(*redis, redis::EventAcksOptions{.wait = settings.ack_timeout}, layout);
      service.metrics().AddGauge("writes_awaiting_kafka",
                                 "Applied writes whose answer waits for Kafka (WRITE_ACK=kafka).",
                                 [&] { return double(kafka_acks->Waiting()); });
    }
    std::optional<core::AcksInTurn> both;
    if (replica_acks && kafka_acks) both.emplace(*replica_acks, *kafka_acks);
    core::EventAcks* durable = nullptr;
    if (both)
      durable = &*both;
    else if (kafka_acks)
      durable = &*kafka_acks;
    else if (replica_acks)
      durable = &*replica_acks;
    // A batch split over a cluster's groups answers one position per part (redis/group_parts.hpp).
    std::optional<core::AcksOfEachPart> each_part;
    if (durable) durable = &each_part.emplace(*durable);
    write::WriteModule module(service.router(), {values, info, &loop_values, durable}, settings);
    service.AddReadinessCheck("redis", [&] { return values.Ping(); });
    // Known counters are written without PostgreSQL (it is needed to create one or change a
    // description): its outage shows in readiness but must not take writes out of service.
    service.AddReadinessCheck(
        "postgres", [&] { return info.Ping(); }, /*required=*/false);
    return service.Run();
  });
}
