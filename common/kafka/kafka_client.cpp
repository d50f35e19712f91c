#include "kafka/kafka_client.hpp"

#include <librdkafka/rdkafka.h>

#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/ports.hpp"
#include "kafka/rdkafka_support.hpp"

namespace count::kafka {
namespace detail {

void Set(RdKafka::Conf& conf, const std::string& name, const std::string& value) {
  std::string error;
  if (conf.set(name, value, error) != RdKafka::Conf::CONF_OK)
    throw std::invalid_argument("kafka property " + name + ": " + error);
}

std::unique_ptr<RdKafka::Conf> MakeConf(const ClusterConfig& cluster, const Properties& own) {
  if (cluster.brokers.empty()) throw std::invalid_argument("kafka: no bootstrap servers");
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  Set(*conf, "bootstrap.servers", cluster.brokers);
  for (const auto& [name, value] : own) Set(*conf, name, value);
  for (const auto& [name, value] : cluster.extra) Set(*conf, name, value);
  return conf;
}

std::optional<std::vector<std::int32_t>> TopicPartitions(RdKafka::Handle& handle,
                                                         const std::string& topic,
                                                         std::chrono::milliseconds timeout) {
  std::string error;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(&handle, topic, nullptr, error));
  if (!t) throw std::invalid_argument("kafka topic " + topic + ": " + error);
  RdKafka::Metadata* raw = nullptr;
  const RdKafka::ErrorCode err =
      handle.metadata(false, t.get(), &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR)
    throw core::StoreUnavailable("kafka metadata: " + RdKafka::err2str(err));
  for (const RdKafka::TopicMetadata* tm : *metadata->topics()) {
    if (tm->topic() != topic) continue;
    if (tm->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) return std::nullopt;
    if (tm->err() != RdKafka::ERR_NO_ERROR)
      throw core::StoreUnavailable("kafka metadata for " + topic + ": " +
                                   RdKafka::err2str(tm->err()));
    std::vector<std::int32_t> ids;
    for (const RdKafka::PartitionMetadata* pm : *tm->partitions()) ids.push_back(pm->id());
    return ids;
  }
  return std::nullopt;
}

bool DestroyWithin(std::function<void()> destroy, std::chrono::milliseconds timeout) {
  std::packaged_task<void()> task(std::move(destroy));
  std::future<void> done = task.get_future();
  std::thread helper(std::move(task));
  if (done.wait_for(timeout) == std::future_status::ready) {
    helper.join();
    return true;
  }
  helper.detach();
  return false;
}

}  // namespace detail

namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
template <class T>
using Owned = std::unique_ptr<T, KafkaDeleter>;

std::unique_ptr<RdKafka::Producer> MetadataClient(const ClusterConfig& cluster) {
  // Failures reach the caller as exceptions; librdkafka's own log would only repeat them.
  auto conf = detail::MakeConf(cluster, {{"client.id", "count-admin"}, {"log_level", "0"}});
  std::string error;
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), error));
  if (!client) throw std::invalid_argument("kafka client: " + error);
  return client;
}

}  // namespace

bool EnsureTopic(const ClusterConfig& cluster, const std::string& topic, int partitions,
                 int replication_factor, std::chrono::milliseconds timeout) {
  if (cluster.brokers.empty()) throw std::invalid_argument("kafka: no bootstrap servers");
  char error[512] = {};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& name, const std::string& value) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::invalid_argument("kafka property " + name + ": " + error);
    }
  };
  set("bootstrap.servers", cluster.brokers);
  set("client.id", "count-admin");
  set("log_level", "0");  // failures reach the caller as exceptions
  for (const auto& [name, value] : cluster.extra) set(name, value);
  Owned<rd_kafka_t> rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    throw std::invalid_argument(std::string("kafka admin client: ") + error);
  }

  Owned<rd_kafka_NewTopic_t> new_topic(
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, error, sizeof error));
  if (!new_topic) throw std::invalid_argument(std::string("kafka topic: ") + error);
  Owned<rd_kafka_AdminOptions_t> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), static_cast<int>(timeout.count()), error,
                                            sizeof error);
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), static_cast<int>(timeout.count()),
                                              error, sizeof error);
  Owned<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(rk.get(), topics, 1, options.get(), queue.get());

  // The request timeout bounds the answer; the margin covers connecting.
  Owned<rd_kafka_event_t> event(
      rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout.count()) + 2000));
  if (!event) throw core::StoreUnavailable("kafka: CreateTopics got no answer");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw core::StoreUnavailable(std::string("kafka CreateTopics: ") +
                                 rd_kafka_event_error_string(event.get()));
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  if (!result) throw core::StoreUnavailable("kafka CreateTopics: unexpected answer");
  std::size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (std::size_t i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return false;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* message = rd_kafka_topic_result_error_string(results[i]);
      throw core::StoreUnavailable("kafka CreateTopics " + topic + ": " +
                                   (message ? message : rd_kafka_err2str(err)));
    }
  }
  return true;
}

std::optional<int> PartitionCount(const ClusterConfig& cluster, const std::string& topic,
                                  std::chrono::milliseconds timeout) {
  auto client = MetadataClient(cluster);
  auto ids = detail::TopicPartitions(*client, topic, timeout);
  if (!ids) return std::nullopt;
  return static_cast<int>(ids->size());
}

std::int64_t GroupLag(const ClusterConfig& cluster, const std::string& group,
                      const std::string& topic, std::chrono::milliseconds timeout) {
  auto conf = detail::MakeConf(cluster, {{"group.id", group}, {"enable.auto.commit", "false"}});
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!consumer) throw core::StoreUnavailable("kafka: " + error);
  const auto ids = detail::TopicPartitions(*consumer, topic, timeout);
  if (!ids) throw core::StoreUnavailable("kafka: no topic " + topic);
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const auto id : *ids) partitions.push_back(RdKafka::TopicPartition::create(topic, id));
  const auto ms = static_cast<int>(timeout.count());
  std::int64_t lag = 0;
  RdKafka::ErrorCode code = consumer->committed(partitions, ms);
  for (auto* p : partitions) {
    std::int64_t low = 0, high = 0;
    if (code == RdKafka::ERR_NO_ERROR)
      code = consumer->query_watermark_offsets(topic, p->partition(), &low, &high, ms);
    const std::int64_t committed = p->offset() >= 0 ? p->offset() : low;
    if (high > committed) lag += high - committed;
  }
  RdKafka::TopicPartition::destroy(partitions);
  consumer->close();
  if (code != RdKafka::ERR_NO_ERROR)
    throw core::StoreUnavailable("kafka: offsets of group " + group + ": " +
                                 RdKafka::err2str(code));
  return lag;
}

}  // namespace count::kafka
