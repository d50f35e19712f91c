#pragma once
// KafkaPublisher: core::EventPublisher on a Kafka topic (docs/ARCHITECTURE.md, "Events and
// what happens while Kafka is down"). Idempotent producer, acks=all, key = count id (one
// counter's events stay in one partition, in order), value = core::ToJson(event). Publish
// returns only when every event is acknowledged; otherwise it throws core::StoreUnavailable and
// the caller keeps the events for a retry (at-least-once; consumers drop duplicates by eventId).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "core/event.hpp"
#include "kafka/kafka_client.hpp"

namespace RdKafka {
class Producer;
}

namespace count::kafka {

struct PublisherConfig {
  ClusterConfig cluster;
  std::string client_id = "count-publisher";
  std::string topic = std::string(core::kEventTopic);
  // How long one Publish may take: librdkafka's delivery.timeout.ms, retries included.
  std::chrono::milliseconds delivery_timeout = std::chrono::seconds(10);
  // How long the producer may wait to fill a batch (latency against throughput). The relay
  // produces a batch event by event: a linger shorter than that takes splits it into many
  // small produce requests, and a cycle of the relay that includes the linger gathers more
  // events per batch (docs/BENCHMARKS.md, "The outbox read and the relay's batch").
  std::chrono::milliseconds linger = std::chrono::milliseconds(20);
  // librdkafka's compression.type of the produced batches: none, lz4, zstd, gzip or snappy.
  std::string compression = "lz4";
  LogSink log;
};

class KafkaPublisher : public core::EventPublisher {
 public:
  // Connects lazily: a broker that is down now is not an error until Publish.
  // Throws std::invalid_argument for a configuration librdkafka rejects.
  explicit KafkaPublisher(PublisherConfig config);
  // Flushes for at most `delivery_timeout`, then stops.
  ~KafkaPublisher() override;
  KafkaPublisher(const KafkaPublisher&) = delete;
  KafkaPublisher& operator=(const KafkaPublisher&) = delete;

  // Thread-safe. Produces every event and waits for every delivery report; throws
  // core::StoreUnavailable naming the first failure when any event was not acknowledged
  // (some of the others may have been: the caller retries all of them).
  void Publish(std::span<const core::Event> events) override;

  // Waits until nothing is in flight or `timeout` passes; true when nothing is left.
  // For graceful shutdown.
  bool Flush(std::chrono::milliseconds timeout);

  // Whether the cluster answers a metadata request for the topic within `timeout` and the
  // topic exists (readiness).
  bool Ping(std::chrono::milliseconds timeout = std::chrono::seconds(2));

  struct Stats {
    std::uint64_t published = 0;  // events acknowledged
    std::uint64_t failed = 0;     // events whose delivery failed
  };
  Stats stats() const { return {published_.load(), failed_.load()}; }

  const PublisherConfig& config() const { return config_; }

 private:
  class Callbacks;

  std::shared_ptr<RdKafka::Producer> Current();
  std::shared_ptr<RdKafka::Producer> NewProducer();
  void ReplaceAfterFatalError();
  void PollLoop();

  PublisherConfig config_;
  std::unique_ptr<Callbacks> callbacks_;
  std::mutex mu_;  // guards producer_
  std::shared_ptr<RdKafka::Producer> producer_;
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<bool> fatal_{false};  // the producer hit a fatal error: replace it
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace count::kafka
