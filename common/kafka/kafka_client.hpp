#pragma once
// What the Kafka adapters share: extra client properties, a log sink, and the admin calls
// a deployment or a test needs (create the topic, ask for its partitions). librdkafka
// headers stay in the .cpp files.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace count::kafka {

// librdkafka properties applied after the adapter's own, e.g. security.protocol, sasl.*.
using Properties = std::map<std::string, std::string>;

// Receives warnings and errors (broker down, commit failed, handler failed). Called from
// the adapter's own threads; must be thread-safe. Never receives a secret.
using LogSink = std::function<void(std::string_view message)>;

struct ClusterConfig {
  std::string brokers;  // bootstrap servers, "host:port[,host:port...]"
  Properties extra;
};

// Creates `topic` with `partitions` partitions unless it exists: true when created now,
// false when it existed. Throws core::StoreUnavailable when the cluster does not answer
// within `timeout` or refuses (e.g. replication factor above the broker count).
bool EnsureTopic(const ClusterConfig& cluster, const std::string& topic, int partitions,
                 int replication_factor,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The partition count of `topic`; nullopt when the topic does not exist. Throws
// core::StoreUnavailable when the cluster does not answer within `timeout`.
std::optional<int> PartitionCount(const ClusterConfig& cluster, const std::string& topic,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Events of `topic` that the consumer group `group` has not committed yet: the sum over the
// partitions of the high watermark minus the committed offset (the low watermark where the
// group committed nothing). Reads offsets only; never joins the group. Throws
// core::StoreUnavailable when the cluster does not answer within `timeout` or the topic is
// missing.
std::int64_t GroupLag(const ClusterConfig& cluster, const std::string& group,
                      const std::string& topic,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace count::kafka
