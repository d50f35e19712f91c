#include "history_feed.hpp"

#include "runtime/log.hpp"

namespace count::analysis {

std::size_t RecordEvents(core::HistoryStore& history, std::span<const core::Event> events) {
  std::size_t recorded = 0, from = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (!events[i].purge_history) continue;
    recorded += history.Record(events.subspan(from, i + 1 - from));
    history.Purge(events[i].count_id);
    from = i + 1;
  }
  if (from < events.size()) recorded += history.Record(events.subspan(from));
  for (const auto& e : events) runtime::WriteEvent("analysis", "event recorded", e);
  return recorded;
}

}  // namespace count::analysis
