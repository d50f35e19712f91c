#include "analysis_module.hpp"

#include "http/static_site.hpp"
#include "web/console_assets.hpp"

namespace count::analysis {

AnalysisModule::AnalysisModule(runtime::Service& service, core::HistoryStore& history)
    : api_(history),
      retention_(history,
                 std::chrono::days(service.env().Int("HISTORY_RETENTION_DAYS", 400, 1, 36'600)),
                 std::chrono::hours(1)) {
  api_.Register(service.router());
  http::ServeStaticSite(service.router(), web::kAnalysisPage, web::ConsoleFiles());
  retention_.Start();
  service.AddShutdownHook([this] { retention_.Stop(); });
}

}  // namespace count::analysis
