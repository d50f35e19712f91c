#include "kafka/kafka_publisher.hpp"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <stdexcept>
#include <utility>

#include "core/ports.hpp"
#include "kafka/rate_limited_log.hpp"
#include "kafka/rdkafka_support.hpp"

namespace count::kafka {
namespace {

// The delivery reports of one Publish call. Every produced message points at it (its
// opaque), so no allocation per message is needed; it lives until Publish and every message's
// delivery report have let go of it (a report can come after Publish gave up waiting).
struct Batch {
  std::mutex mu;
  std::condition_variable done;
  std::size_t remaining = 0;
  std::size_t failed = 0;
  std::string first_error;
  std::atomic<std::size_t> holders{1};  // Publish, then one per message produced

  void Settle(std::size_t n, const std::string* error) {
    std::lock_guard lock(mu);
    remaining -= n;
    if (error) {
      failed += n;
      if (first_error.empty()) first_error = *error;
    }
    if (remaining == 0) done.notify_all();
  }
  void Release(std::size_t n = 1) {
    if (holders.fetch_sub(n) == n) delete this;
  }
};

std::string Millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()); }

}  // namespace

class KafkaPublisher::Callbacks : public RdKafka::DeliveryReportCb, public RdKafka::EventCb {
 public:
  explicit Callbacks(KafkaPublisher& owner) : owner_(owner), log_(owner.config_.log) {}

  void dr_cb(RdKafka::Message& message) override {
    auto* batch = static_cast<Batch*>(message.msg_opaque());
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      owner_.published_.fetch_add(1);
      if (batch) batch->Settle(1, nullptr);
    } else {
      owner_.failed_.fetch_add(1);
      const std::string error = message.errstr();
      if (batch) batch->Settle(1, &error);
    }
    if (batch) batch->Release();
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
          {"compression.type", config_.compression},
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
  // Released when this call returns, however it returns.
  const std::unique_ptr<Batch, void (*)(Batch*)> batch(new Batch, [](Batch* b) { b->Release(); });
  batch->remaining = events.size();
  // librdkafka reports every message within delivery.timeout.ms; the margin covers a
  // report that is late, so a caller never waits without bound.
  const auto deadline =
      std::chrono::steady_clock::now() + config_.delivery_timeout + std::chrono::seconds(5);

  // The C API: a message and its header are produced in one call, with no C++ header
  // objects in between (the relay produces every event; docs/BENCHMARKS.md, "Cheaper per
  // event").
  rd_kafka_t* const rk = producer->c_ptr();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const core::Event& event = events[i];
    const std::string value = core::ToJson(event);
    // The trace of the request that made the change, as the header `traceparent`.
    const std::string traceparent = event.trace.Format();
    std::array<rd_kafka_vu_t, 7> vus{};
    std::size_t n = 0;
    auto add = [&](rd_kafka_vtype_t type) -> rd_kafka_vu_t& {
      vus[n].vtype = type;
      return vus[n++];
    };
    add(RD_KAFKA_VTYPE_TOPIC).u.cstr = config_.topic.c_str();
    add(RD_KAFKA_VTYPE_MSGFLAGS).u.i = RD_KAFKA_MSG_F_COPY;
    auto& v = add(RD_KAFKA_VTYPE_VALUE);
    v.u.mem = {const_cast<char*>(value.data()), value.size()};
    auto& k = add(RD_KAFKA_VTYPE_KEY);
    k.u.mem = {const_cast<char*>(event.count_id.data()), event.count_id.size()};
    add(RD_KAFKA_VTYPE_OPAQUE).u.ptr = batch.get();
    if (!traceparent.empty()) {
      auto& h = add(RD_KAFKA_VTYPE_HEADER);
      h.u.header = {core::kTraceparentHeader.data(), traceparent.data(),
                    static_cast<ssize_t>(traceparent.size())};
    }
    batch->holders.fetch_add(1);  // the message's, given back by its delivery report
    rd_kafka_resp_err_t err;
    while (true) {
      rd_kafka_error_t* error = rd_kafka_produceva(rk, vus.data(), n);
      err = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
      if (error) rd_kafka_error_destroy(error);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || std::chrono::steady_clock::now() >= deadline)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the poller drains reports
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    batch->Release();  // no report will come for it
    // Not queued: neither this event nor the ones after it are produced, so a retry of
    // the whole span keeps each counter's events in order.
    const std::size_t not_produced = events.size() - i;
    failed_.fetch_add(not_produced);
    const std::string error = rd_kafka_err2str(err);
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
