#pragma once
// What count-analysis-service shows about its part of the event pipeline: how far its
// consumer is behind (per partition and the most-behind one), how many partitions it holds,
// what it handled and recorded, and in /ready whether the lag is above the alert threshold
// and the lag itself (docs/ARCHITECTURE.md, "Watching the pipeline").
#include <atomic>
#include <cstdint>

#include "kafka/kafka_subscriber.hpp"
#include "runtime/service.hpp"

namespace count::analysis {

// PIPELINE_LAG_ALERT (events, default 100,000): above it the readiness detail
// "consumer_lag" reads "failing"; "details" shows the lag (total, per partition) and the
// threshold. Not required: a replica that is behind keeps serving
// reads, and taking it out of service would not make it catch up sooner.
void ObserveConsumer(runtime::Service& service, const kafka::KafkaSubscriber& events,
                     const std::atomic<std::uint64_t>& recorded);

}  // namespace count::analysis
