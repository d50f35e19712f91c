// count-analysis-service: UC-004 history, series, trend, comparison and prediction. History
// lives in the countinfo database on PostgreSQL; `count-management-service migrate` creates
// its tables. HISTORY_RETENTION_DAYS (default 400) bounds how long it is kept.
#include <chrono>

#include "analysis_api.hpp"
#include "history_retention.hpp"
#include "postgres/postgres_history_store.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"

namespace {

using namespace count;

// Serves UC-004 from `history`, whatever feeds it: the API, readiness and retention.
int Serve(runtime::Service& service, core::HistoryStore& history) {
  const std::chrono::days keep(service.env().Int("HISTORY_RETENTION_DAYS", 400, 1, 36'600));
  analysis::AnalysisApi api(history);
  api.Register(service.router());
  service.AddReadinessCheck("postgres", [&] { return history.Ping(); });
  analysis::HistoryRetention retention(history, keep, std::chrono::hours(1));
  retention.Start();
  service.AddShutdownHook([&] { retention.Stop(); });
  return service.Run();
}

}  // namespace

int main() {
  return runtime::RunMain("count-analysis-service", [] {
    runtime::Env env;
    runtime::Service service("count-analysis-service", 3003, env);
    auto pg = wiring::PostgresFromEnv(env);
    postgres::PostgresHistoryStore history(*pg);
    return Serve(service, history);
  });
}
