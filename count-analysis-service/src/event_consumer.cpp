#include "event_consumer.hpp"

#include <algorithm>

namespace count::analysis {

void ObserveConsumer(runtime::Service& service, const kafka::KafkaSubscriber& events,
                     const std::atomic<std::uint64_t>& recorded) {
  const std::int64_t alert = service.env().Int("PIPELINE_LAG_ALERT", 100'000, 1, 1'000'000'000'000);
  auto& metrics = service.metrics();
  metrics.AddGauge("consumer_lag",
                   "Events of count-updates not yet processed, over this replica's partitions.",
                   [&] { return double(events.Lag()); });
  metrics.AddGauge("consumer_lag_max_partition",
                   "Events not yet processed in this replica's most-behind partition.", [&] {
                     std::int64_t most = 0;
                     for (const auto& [partition, lag] : events.PartitionLags())
                       most = std::max(most, lag);
                     return double(most);
                   });
  metrics.AddGauge("consumer_partitions", "Partitions of count-updates this replica consumes now.",
                   [&] { return double(events.Assignment().size()); });
  metrics.AddGauge("consumer_events_handled",
                   "Events this process handled since it started (redeliveries too).",
                   [&] { return double(events.stats().handled); });
  metrics.AddGauge("history_events_recorded",
                   "Events this process added to the history since it started"
                   " (a redelivered event is handled but not recorded again).",
                   [&] { return double(recorded.load()); });
  service.AddReadinessCheck(
      "consumer_lag", [&events, alert] { return events.Lag() <= alert; }, /*required=*/false);
}

}  // namespace count::analysis
