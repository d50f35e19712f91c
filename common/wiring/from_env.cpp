#include "wiring/from_env.hpp"

#include <cstdlib>
#include <mutex>
#include <thread>

#include "runtime/log.hpp"

namespace count::wiring {
namespace {

// REDIS_CLUSTER_GROUPS decides where every key lives, so it must be what the cluster's keys were
// written with (docs/OPERATIONS.md, "The key layout of a Redis Cluster"): checked once per
// process, when its first client to the cluster is made. A mismatch stops the process with a
// ConfigError naming both. A cluster that does not answer yet is asked again every second by a
// thread of its own, which stops the process the same way (exit code 2) on a mismatch.
void CheckClusterLayout(const runtime::Env& env, redis::ClusterConfig cluster,
                        redis::RedisClientOptions options) {
  static std::once_flag once;
  std::call_once(once, [&] {
    const redis::KeyLayout layout = KeyLayoutFromEnv(env);
    cluster.replica_reads = false;
    auto check = [cluster, options, layout]() -> std::optional<std::string> {
      redis::RedisClient client(cluster, options);
      const auto stored = redis::StoredLayoutDiffers(client, layout);
      if (!stored) return std::nullopt;
      return "the Redis Cluster's keys were written with the key layout \"" + *stored +
             "\" (its key count-layout), but this process is set to \"" + layout.Description() +
             "\" (REDIS_CLUSTER_GROUPS): it would look for counters where they are not";
    };
    try {
      if (auto mismatch = check()) throw runtime::ConfigError(*mismatch);
      return;
    } catch (const core::StoreUnavailable& e) {
      runtime::Log::Write(runtime::Level::kWarn, "redis",
                          "key layout not checked yet: the cluster does not answer",
                          {{"error", e.what()}});
    }
    std::thread([check] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        try {
          if (auto mismatch = check()) {
            runtime::Log::Write(runtime::Level::kError, "redis", *mismatch);
            std::_Exit(2);
          }
          return;
        } catch (const core::StoreUnavailable&) {
        }
      }
    }).detach();
  });
}

}  // namespace

std::unique_ptr<redis::RedisClient> RedisFromEnv(const runtime::Env& env,
                                                 std::string_view url_setting) {
  redis::RedisClientOptions options;
  options.pool_size = static_cast<std::size_t>(env.Int("REDIS_POOL_SIZE", 2, 1, 64));
  options.timeout = std::chrono::milliseconds(env.Int("REDIS_TIMEOUT_MS", 2000, 10, 60000));
  if (auto nodes = env.Get("REDIS_CLUSTER_NODES");
      nodes && (url_setting == "REDIS_URL" || url_setting == "REDIS_REPLICA_URL")) {
    try {
      auto cluster = redis::ParseClusterNodes(*nodes);
      cluster.replica_reads = url_setting == "REDIS_REPLICA_URL";
      CheckClusterLayout(env, cluster, options);
      return std::make_unique<redis::RedisClient>(std::move(cluster), options);
    } catch (const std::invalid_argument& e) {
      throw runtime::ConfigError("setting REDIS_CLUSTER_NODES: " + std::string(e.what()));
    }
  }
  if (url_setting == "REDIS_URL") {
    if (auto sentinels = env.Get("REDIS_SENTINELS")) {
      try {
        return std::make_unique<redis::RedisClient>(
            redis::ParseSentinelConfig(*sentinels, env.Require("REDIS_MASTER_NAME")), options);
      } catch (const std::invalid_argument& e) {
        throw runtime::ConfigError("setting REDIS_SENTINELS: " + std::string(e.what()));
      }
    }
  }
  const auto url = env.Require(url_setting);
  try {
    return std::make_unique<redis::RedisClient>(redis::ParseRedisUrl(url), options);
  } catch (const std::invalid_argument& e) {
    throw runtime::ConfigError("setting " + std::string(url_setting) + ": " + e.what());
  }
}

std::unique_ptr<redis::RedisClient> RedisReplicaFromEnv(const runtime::Env& env) {
  const bool primary_only = !env.Get("REDIS_CLUSTER_NODES") && !env.Get("REDIS_REPLICA_URL") &&
                            (env.Get("REDIS_URL") || env.Get("REDIS_SENTINELS"));
  return RedisFromEnv(env, primary_only ? "REDIS_URL" : "REDIS_REPLICA_URL");
}

ResultCacheClient ResultCacheFromEnv(const runtime::Env& env) {
  const auto url = env.Get("REDIS_CACHE_URL");
  if (!url) return {};
  redis::RedisClientOptions options;
  options.pool_size = 1;
  options.timeout = std::chrono::milliseconds(env.Int("REDIS_CACHE_TIMEOUT_MS", 100, 10, 10000));
  ResultCacheClient out;
  try {
    out.client = std::make_unique<redis::RedisClient>(redis::ParseRedisUrl(*url), options);
  } catch (const std::invalid_argument& e) {
    throw runtime::ConfigError("setting REDIS_CACHE_URL: " + std::string(e.what()));
  }
  out.cache = std::make_unique<redis::RedisResultCache>(*out.client);
  return out;
}

std::unique_ptr<postgres::PgPool> PostgresFromEnv(const runtime::Env& env,
                                                  std::string_view url_setting) {
  postgres::PgPoolOptions options;
  options.database_url = env.Require(url_setting);
  options.size = static_cast<std::size_t>(env.Int("DATABASE_POOL_SIZE", 4, 1, 256));
  options.statement_timeout =
      std::chrono::milliseconds(env.Int("DATABASE_STATEMENT_TIMEOUT_MS", 5000, 100, 600000));
  return std::make_unique<postgres::PgPool>(options);
}

kafka::ClusterConfig KafkaFromEnv(const runtime::Env& env) {
  return kafka::ClusterConfig{env.Require("KAFKA_BROKERS"), {}};
}

redis::OutboxOptions OutboxFromEnv(const runtime::Env& env, std::string source) {
  return {std::move(source),
          static_cast<std::size_t>(env.Int("OUTBOX_MAX_BACKLOG", 1'000'000, 1, 100'000'000))};
}

namespace {
void LogRelayError(const std::exception& e) {
  runtime::Log::Write(runtime::Level::kWarn, "relay",
                      std::string("events wait in the outbox: ") + e.what());
}
}  // namespace

redis::KeyLayout KeyLayoutFromEnv(const runtime::Env& env) {
  if (!env.Get("REDIS_CLUSTER_NODES")) return redis::KeyLayout::Single();
  return redis::KeyLayout::Cluster(static_cast<std::size_t>(env.Int(
      "REDIS_CLUSTER_GROUPS", redis::KeyLayout::kDefaultGroups, 1, redis::KeyLayout::kMaxGroups)));
}

KafkaRelay::KafkaRelay(const runtime::Env& env, redis::RedisClient& redis, std::string service,
                       std::string pod, const redis::KeyLayout& layout)
    : replica_reads_(layout.clustered() ? RedisFromEnv(env, "REDIS_REPLICA_URL") : nullptr),
      single_(layout.clustered() ? nullptr : std::make_unique<redis::RedisEventOutbox>(redis, pod)),
      publisher_(kafka::PublisherConfig{
          .cluster = KafkaFromEnv(env),
          .client_id = std::move(service),
          .delivery_timeout = std::chrono::milliseconds(
              env.Int("KAFKA_DELIVERY_TIMEOUT_MS", 10'000, 1000, 300'000)),
          .linger = std::chrono::milliseconds(env.Int("KAFKA_LINGER_MS", 20, 0, 1000)),
          .compression = env.Or("KAFKA_COMPRESSION", "lz4"),
          .log = [](std::string_view m) {
            runtime::Log::Write(runtime::Level::kWarn, "kafka", m);
          }}) {
  std::vector<core::EventOutbox*> relayed;
  if (single_) {
    relayed.push_back(single_.get());
  } else {
    std::vector<std::vector<std::size_t>> shards;
    try {
      shards = redis::GroupsByShard(*replica_reads_, layout);
    } catch (const std::exception& e) {  // every group on one thread, as on one shard
      LogRelayError(e);
      shards = {{}};
    }
    for (const auto& groups : shards) {
      shards_.push_back(std::make_unique<redis::RedisGroupedOutbox>(
          *replica_reads_, pod, layout, std::chrono::seconds(10), groups));
      relayed.push_back(shards_.back().get());
    }
  }
  const auto options = events::RelayOptionsFromEnv(env, LogRelayError);
  for (auto* outbox : relayed) {
    relays_.push_back(std::make_unique<events::OutboxRelay>(*outbox, publisher_, options));
    relays_.back()->Start();
  }
}

std::size_t KafkaRelay::Backlog() {
  if (single_) return single_->Backlog();
  std::size_t events = 0;
  for (auto& shard : shards_) events += shard->Backlog();
  return events;
}

void KafkaRelay::Stop() {
  {  // at once: each drains for up to 5 s, a dead shard's too
    std::vector<std::jthread> stopping;
    for (auto& relay : relays_) stopping.emplace_back([&relay] { relay->Stop(); });
  }
  publisher_.Flush(std::chrono::seconds(5));
  const auto release = [](auto& outbox) {
    try {
      outbox.Release();
    } catch (const std::exception& e) {
      LogRelayError(e);  // the lease then runs out by itself
    }
  };
  if (single_) release(*single_);
  for (auto& shard : shards_) release(*shard);  // each, a dead shard's failing alone
}

}  // namespace count::wiring
