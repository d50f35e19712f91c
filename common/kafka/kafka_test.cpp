// Integration tests of KafkaPublisher and KafkaSubscriber against real brokers (KRaft, and
// one ZooKeeper-mode run). Every test case starts its broker on first use; ctest runs each
// case in its own process.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/ports.hpp"
#include "kafka/kafka_client.hpp"
#include "kafka/kafka_publisher.hpp"
#include "kafka/kafka_subscriber.hpp"
#include "kafka/kafka_test_broker.hpp"

namespace count::kafka {
namespace {

using testing::Eventually;
using testing::KafkaBroker;
using Mode = SubscriberConfig::Mode;

testing::KafkaBroker& SharedBroker() {
  static std::unique_ptr<KafkaBroker> broker = [] {
    auto b = std::make_unique<KafkaBroker>();
    b->Start();
    return b;
  }();
  return *broker;
}

core::Event MakeEvent(const std::string& count_id, std::int64_t value) {
  core::Event e;
  e.event_id = core::NewEventId();
  e.type = core::EventType::kUpdated;
  e.count_id = count_id;
  e.delta = 1;
  e.value = value;
  e.timestamp = core::Now();
  e.source = "kafka-test";
  return e;
}

// Every event a subscriber handed over, in order, thread-safe.
class Collector {
 public:
  void Add(std::span<const core::Event> events) {
    std::lock_guard lock(mu_);
    for (const auto& e : events) {
      events_.push_back(e);
      ++times_[e.event_id];
    }
  }
  std::size_t Distinct() const {
    std::lock_guard lock(mu_);
    return times_.size();
  }
  std::size_t Total() const {
    std::lock_guard lock(mu_);
    return events_.size();
  }
  std::map<std::string, int> Times() const {
    std::lock_guard lock(mu_);
    return times_;
  }
  std::vector<core::Event> Events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<core::Event> events_;
  std::map<std::string, int> times_;
};

// The adapters' warnings, timestamped, on stderr: the test log tells what the client saw.
void LogToStderr(std::string_view message) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
  std::fprintf(stderr, "[%lld.%03lld] %.*s\n", static_cast<long long>(now.count() / 1000),
               static_cast<long long>(now.count() % 1000), static_cast<int>(message.size()),
               message.data());
}

PublisherConfig Publisher(const KafkaBroker& broker, const std::string& topic) {
  PublisherConfig config;
  config.cluster = broker.cluster();
  config.topic = topic;
  config.client_id = "test-publisher";
  config.log = LogToStderr;
  return config;
}

SubscriberConfig Subscriber(const KafkaBroker& broker, const std::string& topic, Mode mode,
                            const std::string& group = {}) {
  SubscriberConfig config;
  config.cluster = broker.cluster();
  config.topic = topic;
  config.mode = mode;
  config.group_id = group;
  config.client_id = "test-subscriber";
  config.log = LogToStderr;
  return config;
}

// A record that is not an event, produced without KafkaPublisher.
void ProduceRaw(const KafkaBroker& broker, const std::string& topic, const std::string& key,
                const std::string& payload) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", broker.bootstrap(), error);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  ASSERT_TRUE(producer) << error;
  ASSERT_EQ(producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                              const_cast<char*>(payload.data()), payload.size(), key.data(),
                              key.size(), 0, nullptr),
            RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);
}

TEST(KafkaTest, PreservesEachCountersOrderAndSkipsMalformedRecords) {
  KafkaBroker& broker = SharedBroker();
  broker.CreateTopic("order", 3);
  KafkaPublisher publisher(Publisher(broker, "order"));
  EXPECT_TRUE(publisher.Ping());

  // 1000 events over 20 counters; each counter's values run 1..50.
  constexpr int kKeys = 20;
  constexpr int kPerKey = 50;
  std::vector<core::Event> events;
  for (int seq = 1; seq <= kPerKey; ++seq)
    for (int k = 0; k < kKeys; ++k) events.push_back(MakeEvent("c-" + std::to_string(k), seq));
  ProduceRaw(broker, "order", "c-0", "not json");
  for (std::size_t i = 0; i < events.size(); i += 100)
    publisher.Publish(std::span(events).subspan(i, 100));
  ProduceRaw(broker, "order", "c-1", R"({"eventId":"x"})");
  EXPECT_EQ(publisher.stats().published, 1000u);
  EXPECT_EQ(publisher.stats().failed, 0u);

  Collector seen;
  auto config = Subscriber(broker, "order", Mode::kGroup, "order-group");
  config.max_batch = 64;
  KafkaSubscriber subscriber(config, [&](auto batch) { seen.Add(batch); });
  subscriber.Start();
  ASSERT_TRUE(Eventually([&] { return seen.Distinct() == events.size(); }))
      << seen.Distinct() << " of " << events.size();
  ASSERT_TRUE(Eventually([&] { return subscriber.stats().malformed == 2; }));
  subscriber.Stop();

  std::map<std::string, std::int64_t> last;
  for (const auto& e : seen.Events()) {
    EXPECT_EQ(e.value, last[e.count_id] + 1) << e.count_id;
    last[e.count_id] = e.value;
  }
  ASSERT_EQ(last.size(), static_cast<std::size_t>(kKeys));
  for (const auto& [id, value] : last) EXPECT_EQ(value, kPerKey) << id;
  EXPECT_EQ(seen.Total(), events.size());  // no duplicates without a failure
  EXPECT_EQ(subscriber.stats().handled, events.size());
}

TEST(KafkaTest, AnEventsTraceTravelsAsTheTraceparentHeader) {
  KafkaBroker& broker = SharedBroker();
  broker.CreateTopic("traced", 1);
  KafkaPublisher publisher(Publisher(broker, "traced"));
  std::vector<core::Event> events = {MakeEvent("t", 1), MakeEvent("t", 2)};
  events[0].trace =
      *core::ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  publisher.Publish(events);
  // A record whose header is not a valid traceparent carries no trace.
  {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string error;
    conf->set("bootstrap.servers", broker.bootstrap(), error);
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
    ASSERT_TRUE(producer) << error;
    auto bad = MakeEvent("t", 3);
    const std::string payload = core::ToJson(bad);
    auto* headers = RdKafka::Headers::create();
    headers->add("traceparent", "00-not-a-trace");
    ASSERT_EQ(producer->produce("traced", RdKafka::Topic::PARTITION_UA,
                                RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(payload.data()),
                                payload.size(), "t", 1, 0, headers, nullptr),
              RdKafka::ERR_NO_ERROR);
    ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);
  }

  Collector seen;
  KafkaSubscriber subscriber(Subscriber(broker, "traced", Mode::kGroup, "traced-group"),
                             [&](auto batch) { seen.Add(batch); });
  subscriber.Start();
  ASSERT_TRUE(Eventually([&] { return seen.Distinct() == 3; })) << seen.Distinct();
  subscriber.Stop();
  const auto got = seen.Events();
  EXPECT_EQ(got[0].trace, events[0].trace);
  EXPECT_EQ(got[0].trace.Format(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_FALSE(got[1].trace.IsValid());
  EXPECT_FALSE(got[2].trace.IsValid());
}

TEST(KafkaTest, GroupSubscriberResumesFromItsCommittedOffset) {
  KafkaBroker& broker = SharedBroker();
  broker.CreateTopic("resume", 3);
  KafkaPublisher publisher(Publisher(broker, "resume"));

  // 2000 events, published in the background while the subscribers come and go: the first
  // half while the first subscriber runs, the second half only once it stopped (however
  // slow the machine, the restart happens mid-stream).
  std::vector<core::Event> events;
  for (int i = 0; i < 2000; ++i) events.push_back(MakeEvent("c-" + std::to_string(i % 37), i));
  const auto produce = [&](std::size_t from, std::size_t to) {
    return std::thread([&publisher, &events, from, to] {
      for (std::size_t i = from; i < to; i += 100) {
        publisher.Publish(std::span(events).subspan(i, 100));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  };
  std::thread producer = produce(0, events.size() / 2);

  Collector seen;
  std::vector<std::string> failed_batch;  // handed to the handler, which threw
  std::mutex failed_mu;
  auto config = Subscriber(broker, "resume", Mode::kGroup, "resume-group");
  config.max_batch = 100;
  config.retry_backoff = std::chrono::milliseconds(50);
  {
    std::atomic<bool> failed_once{false};
    KafkaSubscriber first(config, [&](std::span<const core::Event> batch) {
      seen.Add(batch);
      if (!failed_once.exchange(true)) {
        std::lock_guard lock(failed_mu);
        for (const auto& e : batch) failed_batch.push_back(e.event_id);
        throw core::StoreUnavailable("history store down");
      }
    });
    first.Start();
    ASSERT_TRUE(Eventually([&] { return first.stats().handled >= 600; }));
    first.Stop();  // graceful: the batch in hand is finished and committed
    EXPECT_EQ(first.stats().handler_failures, 1u);
  }
  producer.join();
  const std::size_t before_restart = seen.Distinct();
  EXPECT_LT(before_restart, events.size());

  producer = produce(events.size() / 2, events.size());
  KafkaSubscriber second(config, [&](auto batch) { seen.Add(batch); });
  second.Start();
  producer.join();
  ASSERT_TRUE(Eventually([&] { return seen.Distinct() == events.size(); }))
      << seen.Distinct() << " of " << events.size();

  // Only the batch the handler refused came twice; every other event exactly once.
  const std::set<std::string> refused(failed_batch.begin(), failed_batch.end());
  EXPECT_FALSE(refused.empty());
  for (const auto& [id, times] : seen.Times()) EXPECT_EQ(times, refused.count(id) ? 2 : 1) << id;
  EXPECT_EQ(seen.Total(), events.size() + refused.size());

  // Caught up: no lag left.
  EXPECT_TRUE(Eventually([&] { return second.Lag() == 0; }, std::chrono::seconds(10)));
  second.Stop();
}

TEST(KafkaTest, GroupLagCountsWhatTheGroupHasNotCommitted) {
  KafkaBroker& broker = SharedBroker();
  broker.CreateTopic("lag", 3);
  KafkaPublisher publisher(Publisher(broker, "lag"));
  std::vector<core::Event> events;
  for (int i = 0; i < 300; ++i) events.push_back(MakeEvent("c-" + std::to_string(i % 11), i));
  publisher.Publish(events);
  EXPECT_EQ(GroupLag(broker.cluster(), "lag-group", "lag"), 300);  // nothing committed yet

  Collector seen;
  KafkaSubscriber subscriber(Subscriber(broker, "lag", Mode::kGroup, "lag-group"),
                             [&](auto batch) { seen.Add(batch); });
  subscriber.Start();
  ASSERT_TRUE(Eventually([&] { return seen.Distinct() == events.size(); }));
  subscriber.Stop();  // commits what it handled
  EXPECT_EQ(GroupLag(broker.cluster(), "lag-group", "lag"), 0);
  publisher.Publish(std::span(events).first(7));
  EXPECT_EQ(GroupLag(broker.cluster(), "lag-group", "lag"), 7);
  EXPECT_EQ(GroupLag(broker.cluster(), "other-group", "lag"), 307);
  EXPECT_THROW(GroupLag(broker.cluster(), "lag-group", "no-such-topic"), core::StoreUnavailable);
}

TEST(KafkaTest, GroupMembersSplitThePartitionsAndTogetherSeeEverything) {
  KafkaBroker& broker = SharedBroker();
  broker.CreateTopic("split", 3);
  Collector seen_a;
  Collector seen_b;
  KafkaSubscriber a(Subscriber(broker, "split", Mode::kGroup, "split-group"),
                    [&](auto batch) { seen_a.Add(batch); });
  KafkaSubscriber b(Subscriber(broker, "split", Mode::kGroup, "split-group"),
                    [&](auto batch) { seen_b.Add(batch); });
  a.Start();
  b.Start();
  ASSERT_TRUE(Eventually([&] {
    const auto pa = a.Assignment();
    const auto pb = b.Assignment();
    return !pa.empty() && !pb.empty() && pa.size() + pb.size() == 3;
  })) << a.Assignment().size()
      << " + " << b.Assignment().size();
  std::set<std::int32_t> all;
  for (auto p : a.Assignment()) all.insert(p);
  for (auto p : b.Assignment()) all.insert(p);
  EXPECT_EQ(all, (std::set<std::int32_t>{0, 1, 2}));

  KafkaPublisher publisher(Publisher(broker, "split"));
  std::vector<core::Event> events;
  for (int i = 0; i < 600; ++i) events.push_back(MakeEvent("c-" + std::to_string(i % 60), i));
  publisher.Publish(events);

  ASSERT_TRUE(Eventually([&] { return seen_a.Distinct() + seen_b.Distinct() == 600; }))
      << seen_a.Distinct() << " + " << seen_b.Distinct();
  EXPECT_GT(seen_a.Distinct(), 0u);
  EXPECT_GT(seen_b.Distinct(), 0u);
  // Split, not copied: no event reached both, and one counter stays with one member.
  std::set<std::string> counters_a;
  for (const auto& e : seen_a.Events()) counters_a.insert(e.count_id);
  for (const auto& e : seen_b.Events()) {
    EXPECT_EQ(seen_a.Times().count(e.event_id), 0u);
    EXPECT_EQ(counters_a.count(e.count_id), 0u) << e.count_id;
  }
  a.Stop();
  b.Stop();
}

TEST(KafkaTest, BroadcastSubscribersEachSeeEveryEvent) {
  KafkaBroker& broker = SharedBroker();
  broker.CreateTopic("broadcast", 3);
  KafkaPublisher publisher(Publisher(broker, "broadcast"));
  // Published before the subscribers start: a live view starts at the end and skips it.
  publisher.Publish(std::vector{MakeEvent("old", 1)});

  Collector seen_a;
  Collector seen_b;
  KafkaSubscriber a(Subscriber(broker, "broadcast", Mode::kBroadcast),
                    [&](auto batch) { seen_a.Add(batch); });
  KafkaSubscriber b(Subscriber(broker, "broadcast", Mode::kBroadcast),
                    [&](auto batch) { seen_b.Add(batch); });
  a.Start();
  b.Start();
  ASSERT_TRUE(a.WaitReady(std::chrono::seconds(20)));
  ASSERT_TRUE(b.WaitReady(std::chrono::seconds(20)));
  EXPECT_EQ(a.Assignment(), (std::vector<std::int32_t>{0, 1, 2}));
  EXPECT_EQ(b.Assignment(), (std::vector<std::int32_t>{0, 1, 2}));

  std::vector<core::Event> events;
  for (int i = 0; i < 300; ++i) events.push_back(MakeEvent("c-" + std::to_string(i % 30), i));
  publisher.Publish(events);
  ASSERT_TRUE(Eventually([&] { return seen_a.Distinct() == 300 && seen_b.Distinct() == 300; }))
      << seen_a.Distinct() << ", " << seen_b.Distinct();
  EXPECT_EQ(seen_a.Total(), 300u);
  EXPECT_EQ(seen_b.Total(), 300u);
  EXPECT_TRUE(Eventually([&] { return a.Lag() == 0 && b.Lag() == 0; }, std::chrono::seconds(10)));
  a.Stop();
  b.Stop();
}

TEST(KafkaTest, BroadcastSubscriberStartedBeforeTheTopicExistsMissesNothing) {
  KafkaBroker& broker = SharedBroker();
  Collector seen;
  KafkaSubscriber live(Subscriber(broker, "born-later", Mode::kBroadcast),
                       [&](auto batch) { seen.Add(batch); });
  live.Start();
  // No topic, so no event to miss: ready at once, with nothing assigned.
  ASSERT_TRUE(live.WaitReady(std::chrono::seconds(20)));
  EXPECT_TRUE(live.Assignment().empty());

  broker.CreateTopic("born-later", 3);
  KafkaPublisher publisher(Publisher(broker, "born-later"));
  std::vector<core::Event> events;
  for (int i = 0; i < 30; ++i) events.push_back(MakeEvent("c-" + std::to_string(i % 6), i));
  publisher.Publish(events);  // possibly before the subscriber has seen the partitions
  ASSERT_TRUE(Eventually([&] { return seen.Distinct() == 30; }, std::chrono::seconds(20)))
      << seen.Distinct();
  EXPECT_EQ(live.Assignment(), (std::vector<std::int32_t>{0, 1, 2}));
  live.Stop();
}

TEST(KafkaTest, BrokerOutageFailsPublishLoudlyAndLosesNothing) {
  LogToStderr("outage: start");
  KafkaBroker& broker = SharedBroker();
  LogToStderr("outage: broker up");
  broker.CreateTopic("outage", 3);
  auto publisher_config = Publisher(broker, "outage");
  publisher_config.delivery_timeout = std::chrono::seconds(2);
  KafkaPublisher publisher(publisher_config);

  Collector seen;
  auto config = Subscriber(broker, "outage", Mode::kGroup, "outage-group");
  // The restarted coordinator forgets the member; a short session lets it rejoin soon.
  config.session_timeout = std::chrono::seconds(2);
  KafkaSubscriber subscriber(config, [&](auto batch) { seen.Add(batch); });
  subscriber.Start();

  // The outbox's loop: a batch that fails is kept and published again.
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<int> batches{0};
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int b = 0; b < 120 && !done; ++b) {
      std::vector<core::Event> batch;
      for (int i = 0; i < 10; ++i) batch.push_back(MakeEvent("c-" + std::to_string(i), b));
      while (!done) {
        try {
          publisher.Publish(batch);
          break;
        } catch (const core::StoreUnavailable&) {
          ++failures;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
      std::lock_guard lock(mu);
      for (const auto& e : batch) acknowledged.insert(e.event_id);
      ++batches;
    }
  });

  ASSERT_TRUE(Eventually([&] { return batches >= 30; }));
  broker.Kill();
  LogToStderr("broker killed");
  // Down until a Publish has given up (delivery timeout), then back on the same port and data.
  const bool failed = Eventually([&] { return failures >= 1; });
  LogToStderr("publish failed");
  broker.Start();
  LogToStderr("broker started");
  EXPECT_TRUE(failed);
  const bool finished = Eventually([&] { return batches == 120; }, std::chrono::seconds(60));
  done = true;
  producer.join();
  LogToStderr("published");
  ASSERT_TRUE(finished) << batches << " batches";

  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    const auto times = seen.Times();
    for (const auto& id : acknowledged)
      if (!times.count(id)) return false;
    return true;
  })) << seen.Distinct()
      << " seen of " << acknowledged.size() << " acknowledged";
  LogToStderr("outage: all consumed");
  EXPECT_EQ(seen.Distinct(), 1200u);  // nothing beyond what was published
  EXPECT_GE(publisher.stats().failed, 1u);
  subscriber.Stop();
}

TEST(KafkaTest, UnreachableClusterThrowsStoreUnavailable) {
  PublisherConfig config;
  config.cluster.brokers = "127.0.0.1:" + std::to_string(count::testing::FreePort());
  config.delivery_timeout = std::chrono::milliseconds(500);
  KafkaPublisher publisher(config);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(publisher.Publish(std::vector{MakeEvent("a", 1)}), core::StoreUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_FALSE(publisher.Ping(std::chrono::milliseconds(200)));
  EXPECT_THROW(PartitionCount(config.cluster, "count-updates", std::chrono::milliseconds(200)),
               core::StoreUnavailable);

  SubscriberConfig no_group;
  no_group.cluster = config.cluster;
  no_group.mode = Mode::kGroup;
  EXPECT_THROW(KafkaSubscriber(no_group, [](auto) {}),
               std::invalid_argument);  // a group subscriber needs a group id
  PublisherConfig bad = config;
  bad.cluster.extra["no.such.property"] = "1";
  EXPECT_THROW(KafkaPublisher{bad}, std::invalid_argument);
}

TEST(KafkaZooKeeperTest, PublishesAndConsumesAcrossARestart) {
  KafkaBroker broker(KafkaBroker::Options{.mode = KafkaBroker::Mode::kZooKeeper});
  LogToStderr("zk: starting");
  broker.Start();
  LogToStderr("zk: started");
  EXPECT_EQ(PartitionCount(broker.cluster(), std::string(core::kEventTopic)), 3);
  EXPECT_FALSE(EnsureTopic(broker.cluster(), std::string(core::kEventTopic), 3, 1));

  KafkaPublisher publisher(Publisher(broker, std::string(core::kEventTopic)));
  Collector seen;
  auto config = Subscriber(broker, std::string(core::kEventTopic), Mode::kGroup, "zk-group");
  config.session_timeout = std::chrono::seconds(2);  // rejoins soon after the restart
  KafkaSubscriber subscriber(config, [&](auto batch) { seen.Add(batch); });
  subscriber.Start();

  std::vector<core::Event> events;
  for (int i = 0; i < 400; ++i) events.push_back(MakeEvent("c-" + std::to_string(i % 10), i));
  publisher.Publish(std::span(events).first(200));
  ASSERT_TRUE(Eventually([&] { return seen.Distinct() == 200; })) << seen.Distinct();

  LogToStderr("zk: restarting");
  broker.Restart();
  LogToStderr("zk: restarted");
  publisher.Publish(std::span(events).subspan(200));
  LogToStderr("zk: published");
  ASSERT_TRUE(Eventually([&] { return seen.Distinct() == 400; })) << seen.Distinct();
  LogToStderr("zk: consumed");
  subscriber.Stop();
}

}  // namespace
}  // namespace count::kafka
