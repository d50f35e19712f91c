#pragma once
// Internal to count_kafka: building librdkafka configurations and reading metadata.
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kafka/kafka_client.hpp"

namespace count::kafka::detail {

// Throws std::invalid_argument naming the property librdkafka rejected.
void Set(RdKafka::Conf& conf, const std::string& name, const std::string& value);

// A global configuration holding `own`, then `cluster.extra` (which may override `own`), with
// bootstrap.servers from `cluster`.
std::unique_ptr<RdKafka::Conf> MakeConf(const ClusterConfig& cluster, const Properties& own);

// The partition ids of `topic` as `handle` sees them now; nullopt when the topic does not
// exist. Throws core::StoreUnavailable when the cluster does not answer within `timeout`.
std::optional<std::vector<std::int32_t>> TopicPartitions(RdKafka::Handle& handle,
                                                         const std::string& topic,
                                                         std::chrono::milliseconds timeout);

// Runs `destroy` (which drops the last reference to a librdkafka handle) on a helper thread
// and waits at most `timeout`. librdkafka 2.0 to 2.3 (Debian 12 ships 2.0.2) can hang for ever
// in rd_kafka_destroy of a group consumer after the broker went away and came back
// (librdkafka issue #4674); a handle that is not gone in time is left behind rather than
// block a graceful shutdown. False when it was left behind.
bool DestroyWithin(std::function<void()> destroy, std::chrono::milliseconds timeout);

}  // namespace count::kafka::detail
