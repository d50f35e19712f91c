#pragma once
// The analysis service as a module: UC-004's routes and console page over a history store, and
// the retention that prunes it (HISTORY_RETENTION_DAYS), installed by both
// count-analysis-service (history fed by the Kafka consumer) and count-system (fed by the
// in-process bus). Whoever feeds the history calls analysis::RecordEvents.
#include "analysis_api.hpp"
#include "core/history.hpp"
#include "history_retention.hpp"
#include "runtime/service.hpp"

namespace count::analysis {

class AnalysisModule {
 public:
  AnalysisModule(runtime::Service& service, core::HistoryStore& history);

 private:
  AnalysisApi api_;
  HistoryRetention retention_;
};

}  // namespace count::analysis
