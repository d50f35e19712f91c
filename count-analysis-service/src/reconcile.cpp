#include "reconcile.hpp"

namespace count::analysis {

std::vector<Drift> Reconcile(core::CountInfoStore& info, core::CountValueStore& values,
                             core::HistoryStore& history, bool repair) {
  constexpr std::size_t kPage = 500;
  std::vector<Drift> drifts;
  std::string cursor;
  for (;;) {
    const auto page = info.List("", kPage, cursor);
    std::vector<std::string> ids;
    for (const auto& i : page.items) ids.push_back(i.id);
    const auto records = values.GetMany(ids);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!records[i]) continue;  // deleted meanwhile
      const auto latest = history.Latest(ids[i]);
      const std::optional<std::int64_t> seen = latest ? std::optional(latest->value) : std::nullopt;
      if (seen == records[i]->value) continue;
      drifts.push_back({ids[i], seen, records[i]->value});
      if (!repair) continue;
      core::Event fix{core::NewEventId(), core::EventType::kUpdated, ids[i],
                      std::nullopt,       records[i]->value,         core::Now(),
                      "reconcile"};
      std::int64_t delta = 0;
      if (!__builtin_sub_overflow(records[i]->value, seen.value_or(0), &delta)) fix.delta = delta;
      history.Record(std::span(&fix, 1));
    }
    if (!page.next_cursor) break;
    cursor = *page.next_cursor;
  }
  return drifts;
}

}  // namespace count::analysis
