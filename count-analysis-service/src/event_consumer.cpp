#include "event_consumer.hpp"

#include <algorithm>
#include <string>

namespace count::analysis {

void ObserveConsumer(runtime::Service& service, const kafka::KafkaSubscriber& events,
                     const std::atomic<std::uint64_t>& recorded) {
  const std::int64_t alert = service.env().Int("PIPELINE_LAG_ALERT", 100'000, 1, 1'000'000'000'000);
  auto& metrics = service.metrics();
  metrics.AddLabelledGauge(
      "consumer_lag", "Events of count-updates not yet processed, per partition of this replica.",
      "partition", [&] {
        runtime::Metrics::LabelledValues lags;
        for (const auto& [partition, lag] : events.PartitionLags())
          lags.emplace_back(std::to_string(partition), double(lag));
        return lags;
      });
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
  service.AddReadinessDetail("consumer_lag", [&events, alert] {
    boost::json::object partitions;
    for (const auto& [partition, lag] : events.PartitionLags())
      partitions[std::to_string(partition)] = lag;
    return boost::json::value{
        {"total", events.Lag()}, {"alert_above", alert}, {"partitions", std::move(partitions)}};
  });
}

}  // namespace count::analysis
