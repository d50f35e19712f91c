#pragma once
// Settings → adapters: the one place that reads connection settings from the
// environment and builds clients, so every binary wires its stores the same way.
#include <memory>
#include <string_view>

#include "events/outbox_relay.hpp"
#include "kafka/kafka_publisher.hpp"
#include "postgres/pg_pool.hpp"
#include "redis/key_layout.hpp"
#include "redis/redis_client.hpp"
#include "redis/redis_count_value_store.hpp"
#include "redis/redis_grouped_outbox.hpp"
#include "redis/redis_outbox.hpp"
#include "redis/redis_result_cache.hpp"
#include "runtime/config.hpp"

namespace count::wiring {

// A client for the Redis named by `url_setting` (REDIS_URL, REDIS_REPLICA_URL, ...). For
// REDIS_URL, REDIS_SENTINELS + REDIS_MASTER_NAME take precedence when set (seed 000), and
// REDIS_CLUSTER_NODES over both (a Redis Cluster; for REDIS_REPLICA_URL its replicas serve the
// reads).
// REDIS_POOL_SIZE and REDIS_TIMEOUT_MS tune it. Throws runtime::ConfigError.
std::unique_ptr<redis::RedisClient> RedisFromEnv(const runtime::Env& env,
                                                 std::string_view url_setting);

// The Redis that serves reads: REDIS_REPLICA_URL; a deployment without a replica (only
// REDIS_URL or Sentinel settings) reads the primary; a Redis Cluster its shards' replicas.
std::unique_ptr<redis::RedisClient> RedisReplicaFromEnv(const runtime::Env& env);

// The cache tier, REDIS_CACHE_URL (optional: both empty when unset), with a short timeout
// (REDIS_CACHE_TIMEOUT_MS, default 100): a slow cache is a miss, never a slow answer.
struct ResultCacheClient {
  std::unique_ptr<redis::RedisClient> client;
  std::unique_ptr<redis::RedisResultCache> cache;
};
ResultCacheClient ResultCacheFromEnv(const runtime::Env& env);

// DATABASE_URL (required), DATABASE_POOL_SIZE, DATABASE_STATEMENT_TIMEOUT_MS.
std::unique_ptr<postgres::PgPool> PostgresFromEnv(const runtime::Env& env,
                                                  std::string_view url_setting = "DATABASE_URL");

// KAFKA_BROKERS (required), KAFKA_DELIVERY_TIMEOUT_MS.
kafka::ClusterConfig KafkaFromEnv(const runtime::Env& env);

// Where the value store's keys live: a Redis Cluster's tag groups (REDIS_CLUSTER_GROUPS, default
// 60) when REDIS_CLUSTER_NODES is set, else one server's names (redis/key_layout.hpp).
redis::KeyLayout KeyLayoutFromEnv(const runtime::Env& env);

// OUTBOX_MAX_BACKLOG: events the outbox may hold before writes are refused (503); on a Redis
// Cluster each group's stream holds its share (redis::GroupBacklog).
redis::OutboxOptions OutboxFromEnv(const runtime::Env& env, std::string source);

// The event pipeline of a service that changes counters: its Redis outbox (one stream per
// group of a cluster `layout`), relayed to Kafka by whichever replica holds the lease (of each
// stream). Started at construction, drained and flushed by Stop() (register it as a shutdown
// hook). On a Redis Cluster the relay reads the streams from the shards' replicas (their
// primaries when they have none), so Kafka never holds an event whose change a promoted
// replica lacks: after a failover the history and the values agree (docs/FAULTS.md, h). The
// groups of each shard have a relay thread of their own (redis::GroupsByShard, at start), so a
// shard that does not answer delays only its own groups' events.
class KafkaRelay {
 public:
  KafkaRelay(const runtime::Env& env, redis::RedisClient& redis, std::string service,
             std::string pod, const redis::KeyLayout& layout = redis::KeyLayout::Single());
  void Stop();
  std::size_t Backlog();  // events waiting in the outbox, every group's

 private:
  std::unique_ptr<redis::RedisClient> replica_reads_;  // a Redis Cluster
  std::unique_ptr<redis::RedisEventOutbox> single_;    // one server
  // A Redis Cluster: each shard's groups.
  std::vector<std::unique_ptr<redis::RedisGroupedOutbox>> shards_;
  kafka::KafkaPublisher publisher_;
  std::vector<std::unique_ptr<events::OutboxRelay>> relays_;  // one per outbox relayed
};

}  // namespace count::wiring
