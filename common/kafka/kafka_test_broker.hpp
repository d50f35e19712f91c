#pragma once
// Test fixture: a real single-node Apache Kafka broker, started from the jars that
// scripts/kafka.sh resolves (or $COUNT_KAFKA_LIBS), on free loopback ports in a temporary
// directory, stopped by PID. KRaft (combined broker+controller) or ZooKeeper mode.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/event.hpp"
#include "kafka/kafka_client.hpp"
#include "testing/process.hpp"

namespace count::kafka::testing {

// The directory holding the broker's jars: $COUNT_KAFKA_LIBS, else what scripts/kafka.sh
// prints (it resolves them with Maven the first time). Throws std::runtime_error.
std::filesystem::path KafkaLibsDir();

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

class KafkaBroker {
 public:
  enum class Mode { kKRaft, kZooKeeper };
  struct Options {
    Mode mode = Mode::kKRaft;
    // Created on the first start, with replication factor 1: name, partitions.
    std::vector<std::pair<std::string, int>> topics = {{std::string(core::kEventTopic), 3}};
  };

  // Picks the ports and the directory; starts nothing.
  explicit KafkaBroker(Options options);
  KafkaBroker() : KafkaBroker(Options{}) {}
  ~KafkaBroker();  // kills whatever still runs
  KafkaBroker(const KafkaBroker&) = delete;
  KafkaBroker& operator=(const KafkaBroker&) = delete;

  // Starts the broker (and ZooKeeper, the first time) on the same ports and data as
  // before, and returns once a metadata request succeeds and every partition of the
  // topics has a leader. Throws std::runtime_error with the end of the broker's log.
  void Start();
  // SIGTERM: a controlled shutdown. ZooKeeper keeps running.
  void Stop();
  // SIGKILL: no shutdown at all.
  void Kill();
  void Restart() {
    Stop();
    Start();
  }

  bool running() const { return broker_ != nullptr; }
  // The broker's process id (-1 when not running), for measuring its CPU.
  pid_t pid() const { return broker_ ? broker_->pid() : -1; }
  Mode mode() const { return options_.mode; }
  // "127.0.0.1:<port>"
  std::string bootstrap() const;
  ClusterConfig cluster() const { return {bootstrap(), {}}; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // The last lines of the broker's log, for failure messages.
  std::string LogTail(std::size_t lines = 40) const;

  // Creates a topic (replication factor 1) and waits until its partitions have leaders.
  void CreateTopic(const std::string& name, int partitions);

 private:
  void WriteConfiguration();
  void StartZooKeeper();
  void AwaitReady(std::chrono::milliseconds timeout);
  std::vector<std::string> JavaCommand(const std::string& main_class,
                                       std::vector<std::string> args) const;

  Options options_;
  count::testing::TempDir dir_;
  std::filesystem::path libs_;
  int port_;
  int controller_port_;  // KRaft
  int zookeeper_port_;   // ZooKeeper mode
  bool configured_ = false;
  std::vector<std::string> topics_;  // created so far
  std::unique_ptr<count::testing::Process> zookeeper_;
  std::unique_ptr<count::testing::Process> broker_;
};

}  // namespace count::kafka::testing
