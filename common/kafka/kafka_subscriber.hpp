#pragma once
// KafkaSubscriber: consumes the event topic on its own thread and hands batches of parsed
// events to a handler. Malformed records are skipped and counted.
//
//  * kGroup: a consumer group; the group's members share the partitions. Offsets are
//    committed only after the handler returned (at-least-once), at most once per
//    commit_interval: a batch in hand when a member stops, or when its partitions are
//    revoked, is finished and committed first; a member that dies leaves what it handled
//    since its last commit uncommitted, and the next owner of the partition handles it
//    again. Handlers drop duplicates by eventId.
//  * kBroadcast: every subscriber sees every event (live dashboards; docs/ARCHITECTURE.md,
//    "Live updates"): all partitions are assigned to this instance; nothing is committed.
//
// A handler that throws gets the same batch again after a back-off (at-least-once);
// librdkafka reconnects by itself when the broker goes away and comes back.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/event.hpp"
#include "kafka/kafka_client.hpp"

namespace RdKafka {
class KafkaConsumer;
class Message;
class TopicPartition;
}  // namespace RdKafka

namespace count::kafka {

struct SubscriberConfig {
  enum class Mode { kGroup, kBroadcast };
  enum class StartAt { kEarliest, kLatest };

  ClusterConfig cluster;
  Mode mode = Mode::kGroup;
  std::string group_id;  // required for kGroup, ignored for kBroadcast
  std::string client_id = "count-subscriber";
  std::string topic = std::string(core::kEventTopic);
  // kGroup: where a group without a committed offset starts (default earliest: nothing
  // published before the group first ran is skipped). kBroadcast: where this subscriber
  // starts (default latest: a live view needs only what happens from now on).
  std::optional<StartAt> start_at;
  // Events per handler call at most: one call is one rollup statement, so a large batch
  // spreads its fixed cost (a round trip, a transaction) over many events.
  std::size_t max_batch = 5000;
  // The handler gets each partition's events of a batch in a call of its own, the calls
  // running in parallel (each partition's events still in their order, one batch after the
  // other). For a thread-safe handler whose work per partition is independent — rollups
  // keyed by counter, the key of the partitioning — so a replica uses as many database
  // connections and cores as it has partitions. Only batches of at least
  // parallel_min_batch events are split: for a smaller one the extra calls (statements,
  // threads) cost more than they save.
  bool parallel_partitions = false;
  std::size_t parallel_min_batch = 1000;
  // How much the broker gathers before it answers a fetch (librdkafka's fetch.min.bytes):
  // it answers when that much is there or after fetch_wait. Larger: fewer fetch requests
  // (broker CPU) and larger batches (a statement's fixed cost spread over more events), at
  // the price of up to fetch_wait later events while traffic is light.
  std::size_t fetch_min_bytes = 1;
  std::chrono::milliseconds fetch_wait = std::chrono::milliseconds(100);
  // kGroup: handled offsets are committed at most this often (and on revocation and Stop).
  std::chrono::milliseconds commit_interval = std::chrono::seconds(1);
  // How long the consumer waits for a record when none is buffered.
  std::chrono::milliseconds poll_timeout = std::chrono::milliseconds(100);
  // A failed handler call is retried after this back-off, doubled up to 10 times as long.
  std::chrono::milliseconds retry_backoff = std::chrono::milliseconds(200);
  // kGroup: how long the group waits for a member that stopped answering.
  std::chrono::milliseconds session_timeout = std::chrono::seconds(10);
  LogSink log;
};

// Called on the subscriber's thread, one batch at a time, in partition order (with
// parallel_partitions, once per partition of the batch, concurrently). A throw means "not
// handled": the batch comes again.
using EventHandler = std::function<void(std::span<const core::Event> events)>;

class KafkaSubscriber {
 public:
  // Throws std::invalid_argument for a configuration librdkafka rejects or a group
  // subscriber without a group id.
  KafkaSubscriber(SubscriberConfig config, EventHandler handler);
  ~KafkaSubscriber();  // Stop()
  KafkaSubscriber(const KafkaSubscriber&) = delete;
  KafkaSubscriber& operator=(const KafkaSubscriber&) = delete;

  // Creates the consumer and starts its thread. A broker that is down is not an error:
  // the subscriber waits for it. Throws std::invalid_argument as the constructor does.
  void Start();
  // Finishes the batch in hand, commits it (kGroup), leaves the group and closes the
  // consumer. Idempotent; not from the handler. Waits for the handler's batch; otherwise
  // bounded: while the cluster is down the final commit gives up after about
  // session_timeout, and a consumer that librdkafka cannot destroy (librdkafka issue #4674)
  // is left behind after 5 s. Start may follow.
  void Stop();

  // kGroup: the group gave this member its partitions (possibly none) at least once.
  // kBroadcast: the start offset of every partition is fixed, so every event published
  // from now on will be seen. False when `timeout` passed first.
  bool WaitReady(std::chrono::milliseconds timeout);

  // Records behind: over the assigned partitions, high watermark minus position; refreshed
  // about every second and after each batch. For the consumer lag gauge.
  std::int64_t Lag() const { return lag_.load(); }
  // The same per assigned partition.
  std::map<std::int32_t, std::int64_t> PartitionLags() const;

  // The partitions assigned to this instance now.
  std::vector<std::int32_t> Assignment() const;

  // Whether the cluster answers a metadata request for the topic within `timeout`
  // (readiness). False when not started.
  bool Ping(std::chrono::milliseconds timeout = std::chrono::seconds(2));

  struct Stats {
    std::uint64_t handled = 0;           // events the handler accepted
    std::uint64_t malformed = 0;         // records skipped as not an event
    std::uint64_t handler_failures = 0;  // batches the handler threw on (then retried)
    std::uint64_t commit_failures = 0;   // offset commits that failed (then retried)
  };
  Stats stats() const;

  const SubscriberConfig& config() const { return config_; }

 private:
  class Callbacks;
  struct Record {
    std::int32_t partition;
    std::int64_t offset;
    std::string payload;
    core::TraceContext trace;  // from the header `traceparent`, when valid
  };

  void Run();
  void Take(RdKafka::Message& message);
  // Hands the pending records to the handler; in kGroup mode, their offsets are to be
  // committed (by Maintain, CommitSync). `revoking`: the partitions are being taken away,
  // so a failed batch is left to their next owner.
  void Deliver(bool revoking);
  // After a failed batch: seeks its partitions back to it, then waits the back-off.
  void RewindAndBackOff();
  // Commits to_commit_ without waiting: the result comes to OnCommitted inside consume().
  void CommitAsync();
  // Commits to_commit_ and waits for the answer (revocation, stop).
  bool CommitSync();
  // Records committed offsets; puts back for a retry what failed and is still ours.
  // `error` is an RdKafka::ErrorCode.
  void OnCommitted(int error, const std::vector<RdKafka::TopicPartition*>& offsets);
  bool AssignAllPartitions();
  // Commits when commit_interval has passed; every second (always when `force`) refreshes
  // the lag and, kBroadcast, looks for new partitions.
  void Maintain(bool force);
  // `ready`: the assignment came from the group (or was made), not from a revocation.
  void SetAssignment(std::vector<std::int32_t> partitions, bool ready);
  void OnRevoked();
  void Log(const std::string& message);

  SubscriberConfig config_;
  EventHandler handler_;
  // Shared with a consumer whose destruction is left behind (see Stop), which may still call it.
  std::shared_ptr<Callbacks> callbacks_;

  std::mutex lifecycle_mu_;  // one Start or Stop at a time
  mutable std::mutex mu_;    // guards consumer_, assignment_, partition_lags_, ready_, started_
  std::condition_variable ready_cv_;
  std::shared_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<std::int32_t> assignment_;
  std::map<std::int32_t, std::int64_t> partition_lags_;
  bool ready_ = false;
  bool started_ = false;

  std::atomic<bool> stop_{false};
  std::thread thread_;

  // Owned by the subscriber thread.
  std::vector<Record> pending_;
  std::map<std::int32_t, std::int64_t> to_commit_;  // partition -> next offset, not yet sent
  std::map<std::int32_t, std::int64_t> committed_;  // partition -> last committed next offset
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_maintenance_{};
  std::chrono::steady_clock::time_point next_partition_check_{};
  std::chrono::steady_clock::time_point next_commit_{};
  bool topic_absent_ = false;  // broadcast: the topic did not exist when first looked for

  std::atomic<std::int64_t> lag_{0};
  std::atomic<std::uint64_t> handled_{0};
  std::atomic<std::uint64_t> malformed_{0};
  std::atomic<std::uint64_t> handler_failures_{0};
  std::atomic<std::uint64_t> commit_failures_{0};
};

}  // namespace count::kafka
