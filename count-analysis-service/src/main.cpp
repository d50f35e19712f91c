// count-analysis-service: UC-004 history, series, trend, comparison and prediction. History
// lives in the countinfo database on PostgreSQL; `count-management-service migrate` creates
// its tables. HISTORY_RETENTION_DAYS (default 400) bounds how long it is kept.
#include <atomic>
#include <chrono>
#include <thread>

#include "analysis_module.hpp"
#include "event_consumer.hpp"
#include "history_feed.hpp"
#include "kafka/kafka_client.hpp"
#include "kafka/kafka_subscriber.hpp"
#include "postgres/postgres_count_info_store.hpp"
#include "postgres/postgres_history_store.hpp"
#include "rebuild_values.hpp"
#include "reconcile.hpp"
#include "redis/redis_count_value_store.hpp"
#include "runtime/log.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"

namespace {

using namespace count;

// Serves UC-004 from `history`, whatever feeds it: the module and readiness.
int Serve(runtime::Service& service, core::HistoryStore& history) {
  analysis::AnalysisModule module(service, history);
  service.AddReadinessCheck("postgres", [&] { return history.Ping(); });
  return service.Run();
}

// `count-analysis-service reconcile [--repair]`: drift between values (REDIS_URL) and
// history (DATABASE_URL); exit 1 when drift was found and not repaired.
int ReconcileCommand(const runtime::Env& env, bool repair) {
  auto pg = wiring::PostgresFromEnv(env);
  auto redis = wiring::RedisFromEnv(env, "REDIS_URL");
  postgres::PostgresCountInfoStore info(*pg);
  redis::RedisCountValueStore values(*redis, core::Now, {}, wiring::KeyLayoutFromEnv(env));
  postgres::PostgresHistoryStore history(*pg);
  const auto drifts = analysis::Reconcile(info, values, history, repair);
  for (const auto& d : drifts)
    runtime::Log::Write(runtime::Level::kWarn, "reconcile", repair ? "repaired" : "drift",
                        {{"countId", d.count_id},
                         {"value", d.value},
                         {"history", d.history ? boost::json::value(*d.history) : nullptr}});
  runtime::Log::Write(runtime::Level::kInfo, "reconcile", "done",
                      {{"drifted", drifts.size()}, {"repaired", repair}});
  return drifts.empty() || repair ? 0 : 1;
}

// `count-analysis-service rebuild-values`: after the value store (REDIS_URL) was lost, waits
// until this service's consumer group has folded every event Kafka holds, then writes every
// counter of countinfo with its history's latest value (docs/OPERATIONS.md).
int RebuildValuesCommand(const runtime::Env& env) {
  auto pg = wiring::PostgresFromEnv(env);
  auto redis = wiring::RedisFromEnv(env, "REDIS_URL");
  redis::RedisCountValueStore values(*redis, core::Now, {}, wiring::KeyLayoutFromEnv(env));
  if (values.HoldsCounters())
    throw runtime::ConfigError(
        "the value store (REDIS_URL) holds counters: rebuild-values writes only to an empty one");
  const auto cluster = wiring::KafkaFromEnv(env);
  const auto group = env.Or("KAFKA_GROUP_ID", "count-analysis-service");
  const auto topic = std::string(core::kEventTopic);
  const auto wait = std::chrono::seconds(env.Int("REBUILD_WAIT_SECONDS", 600, 1, 86'400));
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    const auto lag = kafka::GroupLag(cluster, group, topic);
    if (lag == 0) break;
    if (std::chrono::steady_clock::now() - t0 > wait)
      throw core::StoreUnavailable("the history is still " + std::to_string(lag) +
                                   " events behind Kafka: is count-analysis-service running?");
    runtime::Log::Write(runtime::Level::kInfo, "rebuild", "waiting for the history",
                        {{"consumer_lag", lag}});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  postgres::PostgresCountInfoStore info(*pg);
  postgres::PostgresHistoryStore history(*pg);
  const auto rebuilt = analysis::RebuildValues(
      info, history,
      [&](const core::CountInfo& c, std::int64_t v) { return values.Restore(c, v); });
  for (const auto& id : rebuilt.unknown)
    runtime::Log::Write(runtime::Level::kWarn, "rebuild",
                        "no history: value unknown, set to the default", {{"countId", id}});
  runtime::Log::Write(runtime::Level::kInfo, "rebuild", "done",
                      {{"restored", rebuilt.restored},
                       {"present", rebuilt.present},
                       {"unknown", rebuilt.unknown.size()}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return runtime::RunMain("count-analysis-service", [&] {
    runtime::Env env;
    const std::string_view command = argc > 1 ? argv[1] : "";
    if (command == "reconcile") {
      if (argc > 3 || (argc == 3 && std::string_view(argv[2]) != "--repair"))
        throw runtime::ConfigError("usage: count-analysis-service reconcile [--repair]");
      return ReconcileCommand(env, argc == 3);
    }
    if (command == "rebuild-values") {
      if (argc > 2) throw runtime::ConfigError("usage: count-analysis-service rebuild-values");
      return RebuildValuesCommand(env);
    }
    if (!command.empty())
      throw runtime::ConfigError("unknown command '" + std::string(command) +
                                 "'; the commands are 'reconcile [--repair]' and 'rebuild-values'");
    runtime::Service service("count-analysis-service", 3003, env);
    auto pg = wiring::PostgresFromEnv(env);
    postgres::PostgresHistoryStore history(*pg);
    std::atomic<std::uint64_t> recorded{0};
    // One consumer group: replicas share the partitions; offsets are committed after the
    // rollups are written, and Record skips event ids it has seen, so nothing counts twice.
    kafka::KafkaSubscriber events(
        {.cluster = wiring::KafkaFromEnv(env),
         .mode = kafka::SubscriberConfig::Mode::kGroup,
         .group_id = env.Or("KAFKA_GROUP_ID", "count-analysis-service"),
         .client_id = service.pod(),
         .max_batch = static_cast<std::size_t>(env.Int("KAFKA_MAX_BATCH", 5000, 1, 100'000)),
         .parallel_partitions = true,  // Record is thread-safe; partitions touch other counters
         // A fetch waits for a few thousand events (or fetch_wait): fewer fetches for the
         // broker, fewer and larger rollup statements (docs/BENCHMARKS.md, 2026-12-02).
         .fetch_min_bytes =
             static_cast<std::size_t>(env.Int("KAFKA_FETCH_MIN_BYTES", 262'144, 1, 100'000'000)),
         .fetch_wait = std::chrono::milliseconds(env.Int("KAFKA_FETCH_WAIT_MS", 100, 1, 10'000)),
         .log = [](std::string_view m) { runtime::Log::Write(runtime::Level::kWarn, "kafka", m); }},
        [&](std::span<const core::Event> batch) {
          recorded += analysis::RecordEvents(history, batch);
        });
    events.Start();
    service.AddShutdownHook([&] { events.Stop(); });
    analysis::ObserveConsumer(service, events, recorded);
    return Serve(service, history);
  });
}
