#include "kafka/kafka_publisher.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <condition_variable>
#include <stdexcept>
#include <utility>

#include "core/ports.hpp"
#include "kafka/rate_limited_log.hpp"
#include "kafka/rdkafka_support.hpp"

namespace count::kafka {
namespace {

// The delivery reports of one Publish call.
struct Batch {
  std::mutex mu;
  std::condition_variable done;
  std::size_t remaining = 0;
  std::size_t failed = 0;
  std::string first_error;

  void Settle(std::size_t n, const std::string* error) {
    std::lock_guard lock(mu);
    remaining -= n;
    if (error) {
      failed += n;
      if (first_error.empty()) first_error = *error;
    }
    if (remaining == 0) done.notify_all();
  }
};

// The opaque of one produced message; deleted by its delivery report.
struct Delivery {
  std::shared_ptr<Batch> batch;
};

std::string Millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()); }

}  // namespace

class KafkaPublisher::Callbacks : public RdKafka::DeliveryReportCb, public RdKafka::EventCb {
 public:
  explicit Callbacks(KafkaPublisher& owner) : owner_(owner), log_(owner.config_.log) {}

  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Delivery> delivery(static_cast<Delivery*>(message.msg_opaque()));
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      owner_.published_.fetch_add(1);
      if (delivery) delivery->batch->Settle(1, nullptr);
    } else {
      owner_.failed_.fetch_add(1);
      const std::string error = message.errstr();
      if (delivery) delivery->batch->Settle(1, &error);
    }
  }

  // librdkafka's errors (broker down, authentication failed, ...), each kind at most once
  // per interval. Its log lines repeat the same errors and are not forwarded.
  void event_cb(RdKafka::Event& event) override {
    if (event.type() != RdKafka::Event::EVENT_ERROR) return;
    if (event.fatal()) owner_.fatal_.store(true);
    log_.Write(std::to_string(static_cast<int>(event.err())),
               (event.fatal() ? "kafka producer fatal error: " : "kafka producer: ") + event.str());
  }

 private:
  KafkaPublisher& owner_;
  RateLimitedLog log_;
};

KafkaPublisher::KafkaPublisher(PublisherConfig config)
    : config_(std::move(config)), callbacks_(std::make_unique<Callbacks>(*this)) {
  if (config_.topic.empty()) throw std::invalid_argument("kafka publisher: empty topic");
  producer_ = NewProducer();
  poller_ = std::thread([this] { PollLoop(); });
}

KafkaPublisher::~KafkaPublisher() {
  stop_.store(true);
  poller_.join();
  Current()->flush(static_cast<int>(config_.delivery_timeout.count()));
}

std::shared_ptr<RdKafka::Producer> KafkaPublisher::NewProducer() {
  const auto timeout = std::max(config_.delivery_timeout, std::chrono::milliseconds(100));
  auto conf = detail::MakeConf(
      config_.cluster,
      {
          {"client.id", config_.client_id},
          {"enable.idempotence", "true"},
          {"acks", "all"},
          {"delivery.timeout.ms", Millis(timeout)},
          // A request to a broker that hangs must not outlive the delivery timeout.
          {"socket.timeout.ms", Millis(timeout)},
          {"request.timeout.ms", Millis(std::min(timeout, std::chrono::milliseconds(30000)))},
          {"linger.ms", Millis(std::min(config_.linger, timeout / 2))},
          // The Java client's partitioner: a key lands in the same partition from any client.
          {"partitioner", "murmur2_random"},
          {"compression.type", "lz4"},
          {"reconnect.backoff.ms", "100"},
          {"reconnect.backoff.max.ms", "2000"},
          {"socket.keepalive.enable", "true"},
          {"log.connection.close", "false"},
      });
  std::string error;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(callbacks_.get()), error) !=
          RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(callbacks_.get()), error) !=
          RdKafka::Conf::CONF_OK)
    throw std::invalid_argument("kafka publisher callbacks: " + error);
  std::shared_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) throw std::invalid_argument("kafka publisher: " + error);
  return producer;
}

std::shared_ptr<RdKafka::Producer> KafkaPublisher::Current() {
  std::lock_guard lock(mu_);
  return producer_;
}

void KafkaPublisher::ReplaceAfterFatalError() {
  std::shared_ptr<RdKafka::Producer> old;
  {
    std::lock_guard lock(mu_);
    if (!fatal_.exchange(false)) return;  // another caller replaced it already
    old = std::exchange(producer_, NewProducer());
  }
  // Fail what the old producer still holds (its callers retry), and serve those reports.
  old->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  old->flush(static_cast<int>(config_.delivery_timeout.count()));
  if (config_.log) config_.log("kafka publisher: replaced the producer after a fatal error");
}

void KafkaPublisher::PollLoop() {
  while (!stop_.load()) Current()->poll(100);
}

void KafkaPublisher::Publish(std::span<const core::Event> events) {
  if (events.empty()) return;
  if (fatal_.load()) ReplaceAfterFatalError();
  const std::shared_ptr<RdKafka::Producer> producer = Current();
  auto batch = std::make_shared<Batch>();
  batch->remaining = events.size();
  // librdkafka reports every message within delivery.timeout.ms; the margin covers a
  // report that is late, so a caller never waits without bound.
  const auto deadline =
      std::chrono::steady_clock::now() + config_.delivery_timeout + std::chrono::seconds(5);

  for (std::size_t i = 0; i < events.size(); ++i) {
    const core::Event& event = events[i];
    std::string value = core::ToJson(event);
    auto delivery = std::make_unique<Delivery>(Delivery{batch});
    // The trace of the request that made the change, as the header `traceparent`.
    std::unique_ptr<RdKafka::Headers> headers;
    if (event.trace.IsValid()) {
      headers.reset(RdKafka::Headers::create());
      headers->add(std::string(core::kTraceparentHeader), event.trace.Format());
    }
    RdKafka::ErrorCode err;
    while (true) {
      err = producer->produce(config_.topic, RdKafka::Topic::PARTITION_UA,
                              RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(),
                              event.count_id.data(), event.count_id.size(), 0, headers.get(),
                              delivery.get());
      if (err != RdKafka::ERR__QUEUE_FULL || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the poller drains reports
    }
    if (err == RdKafka::ERR_NO_ERROR) {
      headers.release();   // freed by librdkafka once produced
      delivery.release();  // owned by its delivery report now
      continue;
    }
    // Not queued: neither this event nor the ones after it are produced, so a retry of
    // the whole span keeps each counter's events in order.
    const std::size_t not_produced = events.size() - i;
    failed_.fetch_add(not_produced);
    const std::string error = RdKafka::err2str(err);
    batch->Settle(not_produced, &error);
    break;
  }

  std::unique_lock lock(batch->mu);
  if (!batch->done.wait_until(lock, deadline, [&] { return batch->remaining == 0; }))
    throw core::StoreUnavailable("kafka: " + std::to_string(batch->remaining) + " of " +
                                 std::to_string(events.size()) +
                                 " events not acknowledged in time");
  if (batch->failed > 0)
    throw core::StoreUnavailable("kafka: " + std::to_string(batch->failed) + " of " +
                                 std::to_string(events.size()) +
                                 " events not delivered: " + batch->first_error);
}

bool KafkaPublisher::Flush(std::chrono::milliseconds timeout) {
  return Current()->flush(static_cast<int>(timeout.count())) == RdKafka::ERR_NO_ERROR;
}

bool KafkaPublisher::Ping(std::chrono::milliseconds timeout) {
  try {
    const auto ids = detail::TopicPartitions(*Current(), config_.topic, timeout);
    return ids && !ids->empty();
  } catch (const core::StoreUnavailable&) {
    return false;
  }
}

}  // namespace count::kafka
