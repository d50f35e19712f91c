// count-analysis-service: UC-004 history, series, trend, comparison and prediction. History
// lives in the countinfo database on PostgreSQL; `count-management-service migrate` creates
// its tables. HISTORY_RETENTION_DAYS (default 400) bounds how long it is kept.
#include <atomic>
#include <chrono>

#include "analysis_api.hpp"
#include "event_consumer.hpp"
#include "history_retention.hpp"
#include "kafka/kafka_subscriber.hpp"
#include "postgres/postgres_count_info_store.hpp"
#include "postgres/postgres_history_store.hpp"
#include "reconcile.hpp"
#include "redis/redis_count_value_store.hpp"
#include "runtime/log.hpp"
#include "runtime/service.hpp"
#include "web/console_assets.hpp"
#include "wiring/from_env.hpp"

namespace {

using namespace count;

// Serves UC-004 from `history`, whatever feeds it: the API, readiness and retention.
int Serve(runtime::Service& service, core::HistoryStore& history) {
  const std::chrono::days keep(service.env().Int("HISTORY_RETENTION_DAYS", 400, 1, 36'600));
  analysis::AnalysisApi api(history);
  api.Register(service.router());
  http::ServeStaticSite(service.router(), web::kAnalysisPage, web::ConsoleFiles());
  service.AddReadinessCheck("postgres", [&] { return history.Ping(); });
  analysis::HistoryRetention retention(history, keep, std::chrono::hours(1));
  retention.Start();
  service.AddShutdownHook([&] { retention.Stop(); });
  return service.Run();
}

// `count-analysis-service reconcile [--repair]`: drift between values (REDIS_URL) and
// history (DATABASE_URL); exit 1 when drift was found and not repaired.
int ReconcileCommand(const runtime::Env& env, bool repair) {
  auto pg = wiring::PostgresFromEnv(env);
  auto redis = wiring::RedisFromEnv(env, "REDIS_URL");
  postgres::PostgresCountInfoStore info(*pg);
  redis::RedisCountValueStore values(*redis);
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
    if (!command.empty())
      throw runtime::ConfigError("unknown command '" + std::string(command) +
                                 "'; the only command is 'reconcile [--repair]'");
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
         .parallel_partitions = true,  // Record is thread-safe; partitions touch other counters
         .log = [](std::string_view m) { runtime::Log::Write(runtime::Level::kWarn, "kafka", m); }},
        [&](std::span<const core::Event> batch) { recorded += history.Record(batch); });
    events.Start();
    service.AddShutdownHook([&] { events.Stop(); });
    analysis::ObserveConsumer(service, events, recorded);
    return Serve(service, history);
  });
}
