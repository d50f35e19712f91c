#include "kafka/kafka_test_broker.hpp"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/ports.hpp"

#ifndef COUNT_SOURCE_DIR
#error "COUNT_SOURCE_DIR must name the repository root (scripts/kafka.sh lives there)"
#endif

namespace count::kafka::testing {
namespace {

using count::testing::Process;

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("kafka broker: cannot write " + path.string());
}

std::string LastLines(const std::filesystem::path& path, std::size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& line : tail) out += line + "\n";
  return out;
}

// A KRaft cluster id: 16 random bytes, URL-safe base64 without padding, as Kafka's Uuid.
std::string NewClusterId() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device rd;
  std::array<unsigned char, 16> bytes{};
  for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  bytes[0] &= 0x7f;  // Kafka never generates an id starting with '-' (bit 7 of byte 0 set)
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 63];
  return out;
}

// Everything the broker needs to start fast and small on one node.
constexpr const char* kCommonProperties = R"(num.partitions=3
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.enable=false
)";

constexpr const char* kLog4j = R"(log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.org.apache.zookeeper.server.ZooKeeperServerMain=INFO
)";

}  // namespace

std::filesystem::path KafkaLibsDir() {
  static std::mutex mu;
  static std::filesystem::path cached;
  std::lock_guard lock(mu);
  if (!cached.empty()) return cached;
  std::filesystem::path dir;
  if (const char* env = std::getenv("COUNT_KAFKA_LIBS"); env && *env) {
    dir = env;
  } else {
    count::testing::TempDir tmp;
    const auto out = tmp.path() / "kafka.sh.out";
    const std::string script = std::string(COUNT_SOURCE_DIR) + "/scripts/kafka.sh";
    if (count::testing::Run({"bash", script}, out) != 0)
      throw std::runtime_error("scripts/kafka.sh failed:\n" + LastLines(out, 30));
    std::string last = LastLines(out, 1);
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
    dir = last;
  }
  bool has_broker = false;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    has_broker |= entry.path().filename().string().starts_with("kafka_2.");
  if (!has_broker)
    throw std::runtime_error("no Kafka broker jars in '" + dir.string() +
                             "' (set COUNT_KAFKA_LIBS or run scripts/kafka.sh)");
  cached = dir;
  return cached;
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

KafkaBroker::KafkaBroker(Options options)
    : options_(std::move(options)),
      libs_(KafkaLibsDir()),
      port_(count::testing::FreePort()),
      controller_port_(count::testing::FreePort()),
      zookeeper_port_(count::testing::FreePort()) {
  if (count::testing::FindExecutable({"java"}).empty())
    throw std::runtime_error(
        "kafka broker: no java on PATH (apt-get install default-jre-headless)");
}

KafkaBroker::~KafkaBroker() {
  if (broker_) broker_->Kill();
  if (zookeeper_) zookeeper_->Kill();
}

std::string KafkaBroker::bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }

std::string KafkaBroker::LogTail(std::size_t lines) const {
  return LastLines(dir() / "broker.log", lines);
}

std::vector<std::string> KafkaBroker::JavaCommand(const std::string& main_class,
                                                  std::vector<std::string> args) const {
  std::vector<std::string> argv{
      "java",
      "-Xms64m",
      "-Xmx512m",
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",  // starts faster; a test broker carries little load
      "-Djava.awt.headless=true",
      "-Djava.net.preferIPv4Stack=true",
      "-Dlog4j.configuration=file:" + (dir() / "log4j.properties").string(),
      "-Dzookeeper.admin.enableServer=false",
      "-cp",
      (libs_ / "*").string(),
      main_class};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

void KafkaBroker::WriteConfiguration() {
  const auto data = dir() / "data";
  const std::string listener = "127.0.0.1:" + std::to_string(port_);
  std::ostringstream server;
  server << kCommonProperties << "log.dirs=" << data.string() << "\n"
         << "listeners=PLAINTEXT://" << listener;
  if (options_.mode == Mode::kKRaft) {
    const std::string controller = "127.0.0.1:" + std::to_string(controller_port_);
    server << ",CONTROLLER://" << controller << "\n"
           << "process.roles=broker,controller\n"
           << "node.id=1\n"
           << "controller.quorum.voters=1@" << controller << "\n"
           << "controller.listener.names=CONTROLLER\n"
           << "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
           << "inter.broker.listener.name=PLAINTEXT\n"
           // A broker killed and restarted registers again once its old session expired.
           << "broker.session.timeout.ms=2000\n"
           << "broker.heartbeat.interval.ms=500\n";
  } else {
    server << "\n"
           << "broker.id=1\n"
           << "zookeeper.connect=127.0.0.1:" << zookeeper_port_ << "\n"
           << "zookeeper.session.timeout.ms=6000\n"
           << "zookeeper.connection.timeout.ms=20000\n";
  }
  server << "advertised.listeners=PLAINTEXT://" << listener << "\n";
  WriteFile(dir() / "server.properties", server.str());
  WriteFile(dir() / "log4j.properties", kLog4j);

  if (options_.mode == Mode::kKRaft) {
    const auto log = dir() / "format.log";
    const int rc = count::testing::Run(
        JavaCommand("kafka.tools.StorageTool",
                    {"format", "-t", NewClusterId(), "-c", (dir() / "server.properties").string()}),
        log);
    if (rc != 0)
      throw std::runtime_error("kafka broker: storage format failed:\n" + LastLines(log, 30));
  } else {
    const auto zk_data = dir() / "zookeeper";
    std::filesystem::create_directories(zk_data);
    WriteFile(dir() / "zoo.cfg", "dataDir=" + zk_data.string() + "\n" +
                                     "clientPort=" + std::to_string(zookeeper_port_) + "\n" +
                                     "clientPortAddress=127.0.0.1\n"
                                     "tickTime=500\n"
                                     "initLimit=10\n"
                                     "syncLimit=5\n"
                                     "maxClientCnxns=0\n"
                                     "admin.enableServer=false\n");
  }
  configured_ = true;
}

void KafkaBroker::StartZooKeeper() {
  zookeeper_ =
      std::make_unique<Process>(JavaCommand("org.apache.zookeeper.server.ZooKeeperServerMain",
                                            {(dir() / "zoo.cfg").string()}),
                                dir() / "zookeeper.log");
}

void KafkaBroker::Start() {
  if (broker_) return;
  if (!configured_) WriteConfiguration();
  const bool start_zookeeper = options_.mode == Mode::kZooKeeper && !zookeeper_;
  if (start_zookeeper) StartZooKeeper();
  // The broker starts beside ZooKeeper (its client retries until ZooKeeper answers).
  broker_ = std::make_unique<Process>(
      JavaCommand("kafka.Kafka", {(dir() / "server.properties").string()}), dir() / "broker.log");
  if (start_zookeeper && !count::testing::WaitForPort(zookeeper_port_, std::chrono::seconds(60)))
    throw std::runtime_error("kafka broker: ZooKeeper did not open its port:\n" +
                             LastLines(dir() / "zookeeper.log", 30));
  AwaitReady(std::chrono::seconds(90));
  for (const auto& [name, partitions] : options_.topics) {
    if (std::find(topics_.begin(), topics_.end(), name) == topics_.end())
      CreateTopic(name, partitions);
  }
}

void KafkaBroker::Stop() {
  if (!broker_) return;
  broker_->Stop(std::chrono::seconds(30));
  broker_.reset();
}

void KafkaBroker::Kill() {
  if (!broker_) return;
  broker_->Kill();
  broker_.reset();
}

void KafkaBroker::CreateTopic(const std::string& name, int partitions) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    try {
      EnsureTopic(cluster(), name, partitions, 1, std::chrono::seconds(5));
      break;
    } catch (const core::StoreUnavailable& e) {
      // A broker that just started may not take admin requests yet.
      if (std::chrono::steady_clock::now() >= deadline)
        throw std::runtime_error(std::string("kafka broker: create topic: ") + e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  topics_.push_back(name);
  AwaitReady(std::chrono::seconds(30));
}

// Ready: a metadata request succeeds, lists this broker, and every partition of every
// topic created so far has a leader.
void KafkaBroker::AwaitReady(std::chrono::milliseconds timeout) {
  auto conf = std::unique_ptr<RdKafka::Conf>(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", bootstrap(), error);
  conf->set("client.id", "count-test-broker-probe", error);
  conf->set("log_level", "0", error);  // the probe fails on purpose until the broker is up
  std::unique_ptr<RdKafka::Producer> probe(RdKafka::Producer::create(conf.get(), error));
  if (!probe) throw std::runtime_error("kafka broker: probe: " + error);

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (!broker_->Running())
      throw std::runtime_error("kafka broker exited during start:\n" + LogTail());
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode err = probe->metadata(true, nullptr, &raw, 1000);
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (err == RdKafka::ERR_NO_ERROR && !metadata->brokers()->empty()) {
      std::size_t ready_topics = 0;
      for (const RdKafka::TopicMetadata* topic : *metadata->topics()) {
        if (std::find(topics_.begin(), topics_.end(), topic->topic()) == topics_.end()) continue;
        bool leaders = topic->err() == RdKafka::ERR_NO_ERROR && !topic->partitions()->empty();
        for (const RdKafka::PartitionMetadata* p : *topic->partitions())
          leaders = leaders && p->leader() >= 0 && p->err() == RdKafka::ERR_NO_ERROR;
        ready_topics += leaders ? 1 : 0;
      }
      if (ready_topics == topics_.size()) return;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("kafka broker not ready in time:\n" + LogTail());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace count::kafka::testing
