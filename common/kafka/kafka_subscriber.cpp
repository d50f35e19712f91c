#include "kafka/kafka_subscriber.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <future>
#include <random>
#include <stdexcept>
#include <utility>

#include "core/ports.hpp"
#include "kafka/rate_limited_log.hpp"
#include "kafka/rdkafka_support.hpp"

namespace count::kafka {
namespace {

constexpr auto kMaintenanceInterval = std::chrono::seconds(1);
constexpr auto kPartitionCheckInterval = std::chrono::seconds(10);
constexpr auto kMetadataTimeout = std::chrono::seconds(5);
constexpr auto kDestroyTimeout = std::chrono::seconds(5);

// Owns the TopicPartition objects of a librdkafka partition list.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  PartitionList() = default;
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  ~PartitionList() { RdKafka::TopicPartition::destroy(items); }
  void Add(const std::string& topic, std::int32_t partition, std::int64_t offset) {
    items.push_back(RdKafka::TopicPartition::create(topic, partition, offset));
  }
};

std::string Millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()); }

// The message's header `traceparent` read in place (the C API: the C++ one copies each
// header it returns); no trace when absent or malformed.
core::TraceContext TraceOf(RdKafka::Message& message) {
  rd_kafka_headers_t* headers = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  if (rd_kafka_message_headers(message.c_ptr(), &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_header_get_last(headers, core::kTraceparentHeader.data(), &value, &size) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      !value)
    return {};
  return core::ParseTraceparent({static_cast<const char*>(value), size})
      .value_or(core::TraceContext{});
}

std::string RandomHex() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint64_t v = dist(rd), i = 0; i < 16; ++i, v >>= 4) out += kDigits[v & 15];
  return out;
}

}  // namespace

class KafkaSubscriber::Callbacks : public RdKafka::RebalanceCb,
                                   public RdKafka::OffsetCommitCb,
                                   public RdKafka::EventCb {
 public:
  explicit Callbacks(KafkaSubscriber& owner) : owner_(owner), log_(owner.config_.log) {}

  // Runs on the subscriber thread, inside consume() or close().
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      consumer->assign(partitions);
      std::vector<std::int32_t> ids;
      for (const auto* tp : partitions) ids.push_back(tp->partition());
      owner_.SetAssignment(std::move(ids), /*ready=*/true);
      return;
    }
    if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      if (consumer->assignment_lost()) {
        // Other members may own these partitions already: whatever is in hand is theirs.
        owner_.pending_.clear();
        owner_.to_commit_.clear();
      } else {
        owner_.OnRevoked();
      }
    } else {
      log_.Write("kafka subscriber: rebalance failed: " + RdKafka::err2str(err));
    }
    consumer->unassign();
    owner_.SetAssignment({}, /*ready=*/false);
  }

  // The outcome of a commit; runs on the subscriber thread, inside consume().
  void offset_commit_cb(RdKafka::ErrorCode err,
                        std::vector<RdKafka::TopicPartition*>& offsets) override {
    owner_.OnCommitted(err, offsets);
  }

  // librdkafka's errors (broker down, authentication failed, ...), each kind at most once
  // per interval. Its log lines repeat the same errors and are not forwarded.
  void event_cb(RdKafka::Event& event) override {
    if (event.type() != RdKafka::Event::EVENT_ERROR || detached_.load()) return;
    log_.Write(
        std::to_string(static_cast<int>(event.err())),
        (event.fatal() ? "kafka subscriber fatal error: " : "kafka subscriber: ") + event.str());
  }

  void Write(const std::string& message) {
    if (!detached_.load()) log_.Write(message);
  }

  // The consumer using these callbacks was left behind: its threads may still report
  // errors, which no longer concern anybody.
  void Detach() { detached_.store(true); }

 private:
  KafkaSubscriber& owner_;
  RateLimitedLog log_;
  std::atomic<bool> detached_{false};
};

KafkaSubscriber::KafkaSubscriber(SubscriberConfig config, EventHandler handler)
    : config_(std::move(config)),
      handler_(std::move(handler)),
      callbacks_(std::make_shared<Callbacks>(*this)) {
  if (config_.topic.empty()) throw std::invalid_argument("kafka subscriber: empty topic");
  if (config_.mode == SubscriberConfig::Mode::kGroup && config_.group_id.empty())
    throw std::invalid_argument("kafka subscriber: a group subscriber needs a group id");
  if (!handler_) throw std::invalid_argument("kafka subscriber: no handler");
  if (config_.max_batch == 0) config_.max_batch = 1;
}

KafkaSubscriber::~KafkaSubscriber() { Stop(); }

void KafkaSubscriber::Start() {
  std::lock_guard lifecycle(lifecycle_mu_);
  std::lock_guard lock(mu_);
  if (started_) return;
  const bool group = config_.mode == SubscriberConfig::Mode::kGroup;
  const auto start_at = config_.start_at.value_or(group ? SubscriberConfig::StartAt::kEarliest
                                                        : SubscriberConfig::StartAt::kLatest);
  // A broadcast subscriber assigns partitions itself and never commits: its group id
  // only satisfies librdkafka and is unique, so no two instances ever share a group.
  const std::string group_id =
      group ? config_.group_id : "count-broadcast-" + config_.client_id + "-" + RandomHex();
  auto conf = detail::MakeConf(
      config_.cluster,
      {
          {"client.id", config_.client_id},
          {"group.id", group_id},
          {"enable.auto.commit", "false"},
          {"enable.auto.offset.store", "false"},
          {"auto.offset.reset",
           start_at == SubscriberConfig::StartAt::kEarliest ? "earliest" : "latest"},
          {"session.timeout.ms", Millis(config_.session_timeout)},
          {"heartbeat.interval.ms",
           Millis(std::max(config_.session_timeout / 10, std::chrono::milliseconds(100)))},
          {"partition.assignment.strategy", "range,roundrobin"},
          {"fetch.min.bytes", std::to_string(config_.fetch_min_bytes)},
          {"fetch.wait.max.ms", Millis(config_.fetch_wait)},
          {"reconnect.backoff.ms", "100"},
          {"reconnect.backoff.max.ms", "2000"},
          {"socket.keepalive.enable", "true"},
          {"log.connection.close", "false"},
      });
  std::string error;
  if ((group && conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(callbacks_.get()),
                          error) != RdKafka::Conf::CONF_OK) ||
      (group &&
       conf->set("offset_commit_cb", static_cast<RdKafka::OffsetCommitCb*>(callbacks_.get()),
                 error) != RdKafka::Conf::CONF_OK) ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(callbacks_.get()), error) !=
          RdKafka::Conf::CONF_OK)
    throw std::invalid_argument("kafka subscriber callbacks: " + error);
  std::shared_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) throw std::invalid_argument("kafka subscriber: " + error);
  if (group) {
    const RdKafka::ErrorCode err = consumer->subscribe({config_.topic});
    if (err != RdKafka::ERR_NO_ERROR)
      throw std::invalid_argument("kafka subscriber: subscribe: " + RdKafka::err2str(err));
  }
  consumer_ = std::move(consumer);
  started_ = true;
  stop_.store(false);
  pending_.clear();
  to_commit_.clear();
  committed_.clear();
  backoff_ = std::chrono::milliseconds(0);
  next_maintenance_ = next_partition_check_ = next_commit_ = {};
  topic_absent_ = false;
  lag_.store(0);
  thread_ = std::thread([this] { Run(); });
}

void KafkaSubscriber::Stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lock(mu_);
    if (!started_) return;
  }
  stop_.store(true);
  if (thread_.joinable()) thread_.join();  // the consumer is closed when the thread ends
  std::shared_ptr<RdKafka::KafkaConsumer> consumer;
  {
    std::lock_guard lock(mu_);
    consumer = std::exchange(consumer_, nullptr);
    assignment_.clear();
    ready_ = false;
    started_ = false;
  }
  const bool destroyed = detail::DestroyWithin(
      [consumer = std::move(consumer), callbacks = callbacks_]() mutable { consumer.reset(); },
      kDestroyTimeout);
  if (!destroyed) {
    Log("kafka subscriber: the closed consumer did not shut down in time (librdkafka issue "
        "#4674); left behind");
    callbacks_->Detach();
    callbacks_ = std::make_shared<Callbacks>(*this);
  }
}

bool KafkaSubscriber::WaitReady(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return ready_cv_.wait_for(lock, timeout, [&] { return ready_; });
}

std::vector<std::int32_t> KafkaSubscriber::Assignment() const {
  std::lock_guard lock(mu_);
  return assignment_;
}

bool KafkaSubscriber::Ping(std::chrono::milliseconds timeout) {
  std::shared_ptr<RdKafka::KafkaConsumer> consumer;
  {
    std::lock_guard lock(mu_);
    consumer = consumer_;
  }
  if (!consumer) return false;
  try {
    const auto ids = detail::TopicPartitions(*consumer, config_.topic, timeout);
    return ids && !ids->empty();
  } catch (const core::StoreUnavailable&) {
    return false;
  }
}

KafkaSubscriber::Stats KafkaSubscriber::stats() const {
  return {handled_.load(), malformed_.load(), handler_failures_.load(), commit_failures_.load()};
}

void KafkaSubscriber::Log(const std::string& message) { callbacks_->Write(message); }

void KafkaSubscriber::SetAssignment(std::vector<std::int32_t> partitions, bool ready) {
  std::sort(partitions.begin(), partitions.end());
  std::lock_guard lock(mu_);
  assignment_ = std::move(partitions);
  std::erase_if(partition_lags_, [&](const auto& entry) {
    return !std::binary_search(assignment_.begin(), assignment_.end(), entry.first);
  });
  if (ready) {
    ready_ = true;
    ready_cv_.notify_all();
  }
}

void KafkaSubscriber::OnRevoked() {
  if (!pending_.empty()) Deliver(/*revoking=*/true);
  CommitSync();
  to_commit_.clear();  // what failed to commit now is for the partitions' next owner to redo
}

void KafkaSubscriber::Run() {
  RdKafka::KafkaConsumer& consumer = *consumer_;
  if (config_.mode == SubscriberConfig::Mode::kBroadcast) {
    while (!stop_.load() && !AssignAllPartitions())
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const int poll_ms = static_cast<int>(config_.poll_timeout.count());
  while (!stop_.load()) {
    std::unique_ptr<RdKafka::Message> message(consumer.consume(poll_ms));
    Take(*message);
    // Drain what is buffered already, up to a batch.
    while (!pending_.empty() && pending_.size() < config_.max_batch && !stop_.load()) {
      message.reset(consumer.consume(0));
      if (message->err() == RdKafka::ERR__TIMED_OUT) break;
      Take(*message);
    }
    const bool delivered = !pending_.empty();
    if (delivered) Deliver(/*revoking=*/false);
    Maintain(/*force=*/delivered);
  }
  // Stop: finish the batch in hand, commit (waiting for the answer: while the cluster is
  // down, about session_timeout), leave the group.
  if (!pending_.empty()) Deliver(/*revoking=*/false);
  CommitSync();
  to_commit_.clear();  // not retried: the next owner of the partitions handles them again
  const RdKafka::ErrorCode err = consumer.close();
  if (err != RdKafka::ERR_NO_ERROR) Log("kafka subscriber: close: " + RdKafka::err2str(err));
}

void KafkaSubscriber::Take(RdKafka::Message& message) {
  switch (message.err()) {
    case RdKafka::ERR_NO_ERROR:
      pending_.push_back({message.partition(), message.offset(),
                          std::string(static_cast<const char*>(message.payload()),
                                      message.payload() ? message.len() : 0),
                          TraceOf(message)});
      return;
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return;
    default:
      Log("kafka subscriber: " + message.errstr());
  }
}

void KafkaSubscriber::Deliver(bool revoking) {
  // The batch per partition, each in its order; one list when partitions are not handled
  // in parallel.
  std::map<std::int32_t, std::vector<core::Event>> parts;
  const bool parallel =
      config_.parallel_partitions && pending_.size() >= config_.parallel_min_batch;
  std::size_t events = 0;
  std::uint64_t malformed = 0;
  for (const Record& record : pending_) {
    if (auto event = core::EventFromJson(record.payload)) {
      event->trace = record.trace;
      parts[parallel ? record.partition : 0].push_back(std::move(*event));
      ++events;
    } else {
      ++malformed;
    }
  }
  std::optional<std::string> failure;
  auto handle = [&](const std::vector<core::Event>& part) -> std::optional<std::string> {
    try {
      handler_(part);
      return std::nullopt;
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "an exception not derived from std::exception";
    }
  };
  // Every partition but the first on a thread of its own, the first on this one; a failure
  // of any makes the whole batch come again (what succeeded is then dropped by eventId).
  std::vector<std::future<std::optional<std::string>>> others;
  for (auto it = parts.begin(); it != parts.end(); ++it)
    if (it != parts.begin())
      others.push_back(std::async(std::launch::async, handle, std::cref(it->second)));
  if (!parts.empty()) failure = handle(parts.begin()->second);
  for (auto& other : others)
    if (auto error = other.get(); error && !failure) failure = std::move(error);
  if (failure) {
    handler_failures_.fetch_add(1);
    Log("kafka subscriber: handler failed, the batch comes again: " + *failure);
    if (!revoking) RewindAndBackOff();
    pending_.clear();
    return;
  }
  backoff_ = std::chrono::milliseconds(0);
  handled_.fetch_add(events);
  malformed_.fetch_add(malformed);
  if (config_.mode == SubscriberConfig::Mode::kGroup) {
    for (const Record& record : pending_) {
      auto& next = to_commit_[record.partition];
      next = std::max(next, record.offset + 1);
    }
    pending_.clear();
  } else {
    pending_.clear();
  }
}

void KafkaSubscriber::RewindAndBackOff() {
  // Every partition of the batch goes back to its first record in the batch.
  std::map<std::int32_t, std::int64_t> first;
  for (const Record& record : pending_) first.try_emplace(record.partition, record.offset);
  for (const auto& [partition, offset] : first) {
    std::unique_ptr<RdKafka::TopicPartition> tp(
        RdKafka::TopicPartition::create(config_.topic, partition, offset));
    const RdKafka::ErrorCode err = consumer_->seek(*tp, 5000);
    if (err != RdKafka::ERR_NO_ERROR)
      Log("kafka subscriber: seek back failed: " + RdKafka::err2str(err));
  }
  backoff_ = backoff_.count() == 0 ? config_.retry_backoff
                                   : std::min(backoff_ * 2, config_.retry_backoff * 10);
  const auto until = std::chrono::steady_clock::now() + backoff_;
  while (!stop_.load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void KafkaSubscriber::CommitAsync() {
  if (to_commit_.empty()) return;
  PartitionList offsets;
  for (const auto& [partition, next] : to_commit_) offsets.Add(config_.topic, partition, next);
  const RdKafka::ErrorCode err = consumer_->commitAsync(offsets.items);
  if (err != RdKafka::ERR_NO_ERROR) {
    commit_failures_.fetch_add(1);
    Log("kafka subscriber: commit failed, will retry: " + RdKafka::err2str(err));
    return;  // kept in to_commit_
  }
  to_commit_.clear();  // OnCommitted puts back what fails
}

bool KafkaSubscriber::CommitSync() {
  if (to_commit_.empty()) return true;
  PartitionList offsets;
  for (const auto& [partition, next] : to_commit_) offsets.Add(config_.topic, partition, next);
  to_commit_.clear();
  // The callback given here (not the registered one) receives the outcome before return.
  return consumer_->commitSync(offsets.items, callbacks_.get()) == RdKafka::ERR_NO_ERROR;
}

void KafkaSubscriber::OnCommitted(int error, const std::vector<RdKafka::TopicPartition*>& offsets) {
  const auto err = static_cast<RdKafka::ErrorCode>(error);
  if (err == RdKafka::ERR__NO_OFFSET) return;  // nothing was to be committed
  const std::vector<std::int32_t> assigned = Assignment();
  bool failed = false;
  for (const auto* tp : offsets) {
    auto& committed = committed_[tp->partition()];
    if (err == RdKafka::ERR_NO_ERROR && tp->err() == RdKafka::ERR_NO_ERROR) {
      committed = std::max(committed, tp->offset());
      continue;
    }
    failed = true;
    // Retried unless a later commit covers it or the partition has gone to another member.
    const bool mine =
        std::find(assigned.begin(), assigned.end(), tp->partition()) != assigned.end();
    if (mine && tp->offset() > committed) {
      auto& next = to_commit_[tp->partition()];
      next = std::max(next, tp->offset());
    }
  }
  if (failed) {
    commit_failures_.fetch_add(1);
    Log("kafka subscriber: commit failed, will retry: " +
        RdKafka::err2str(err != RdKafka::ERR_NO_ERROR ? err : RdKafka::ERR__FAIL));
  }
}

bool KafkaSubscriber::AssignAllPartitions() {
  std::optional<std::vector<std::int32_t>> ids;
  try {
    ids = detail::TopicPartitions(*consumer_, config_.topic, kMetadataTimeout);
  } catch (const core::StoreUnavailable& e) {
    Log(std::string("kafka subscriber: ") + e.what());
    return false;
  }
  std::vector<std::int32_t> known = Assignment();
  if (!ids || ids->empty()) {
    // No topic yet, so no event yet: there is nothing to miss as long as its partitions are
    // read from their beginning once it exists. Ready now; look again soon.
    if (!topic_absent_) Log("kafka subscriber: topic " + config_.topic + " does not exist yet");
    topic_absent_ = true;
    next_partition_check_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    SetAssignment(std::move(known), /*ready=*/true);
    return true;
  }
  const bool first_assignment = known.empty() && !topic_absent_;
  const bool latest = config_.start_at.value_or(SubscriberConfig::StartAt::kLatest) ==
                      SubscriberConfig::StartAt::kLatest;
  PartitionList added;
  for (const std::int32_t id : *ids) {
    if (std::find(known.begin(), known.end(), id) != known.end()) continue;
    std::int64_t offset = RdKafka::Topic::OFFSET_BEGINNING;
    // The first assignment starts at the end when asked to; a partition added to the topic
    // later starts at its beginning, so none of its events is missed.
    if (latest && first_assignment) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      const RdKafka::ErrorCode err = consumer_->query_watermark_offsets(
          config_.topic, id, &low, &high, static_cast<int>(kMetadataTimeout.count()));
      if (err != RdKafka::ERR_NO_ERROR) {
        Log("kafka subscriber: end offsets: " + RdKafka::err2str(err));
        return false;
      }
      offset = high;
    }
    added.Add(config_.topic, id, offset);
    known.push_back(id);
  }
  if (!added.items.empty()) {
    std::unique_ptr<RdKafka::Error> error(consumer_->incremental_assign(added.items));
    if (error) {
      Log("kafka subscriber: assign: " + error->str());
      return false;
    }
  }
  next_partition_check_ = std::chrono::steady_clock::now() + kPartitionCheckInterval;
  SetAssignment(std::move(known), /*ready=*/true);
  return true;
}

void KafkaSubscriber::Maintain(bool force) {
  const auto now = std::chrono::steady_clock::now();
  // One commit per interval, not per batch: a commit is a broker write, and what a crash
  // leaves uncommitted comes again and is dropped by eventId.
  if (!to_commit_.empty() && now >= next_commit_) {
    CommitAsync();  // also retries a commit that failed
    next_commit_ = now + config_.commit_interval;
  }
  if (!force && now < next_maintenance_) return;
  next_maintenance_ = now + kMaintenanceInterval;

  if (config_.mode == SubscriberConfig::Mode::kBroadcast && now >= next_partition_check_)
    AssignAllPartitions();

  // Positions and high watermarks are librdkafka's cached state: no request to the broker.
  PartitionList positions;
  for (const std::int32_t id : Assignment()) positions.Add(config_.topic, id, 0);
  std::map<std::int32_t, std::int64_t> lags;
  if (!positions.items.empty() && consumer_->position(positions.items) == RdKafka::ERR_NO_ERROR) {
    for (const auto* tp : positions.items) {
      std::int64_t low = RdKafka::Topic::OFFSET_INVALID;
      std::int64_t high = RdKafka::Topic::OFFSET_INVALID;
      consumer_->get_watermark_offsets(config_.topic, tp->partition(), &low, &high);
      lags[tp->partition()] =
          tp->offset() >= 0 && high >= 0 ? std::max<std::int64_t>(0, high - tp->offset()) : 0;
    }
  }
  std::int64_t lag = 0;
  for (const auto& [partition, behind] : lags) lag += behind;
  lag_.store(lag);
  std::lock_guard lock(mu_);
  partition_lags_ = std::move(lags);
}

std::map<std::int32_t, std::int64_t> KafkaSubscriber::PartitionLags() const {
  std::lock_guard lock(mu_);
  return partition_lags_;
}

}  // namespace count::kafka
