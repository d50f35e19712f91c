// The Kafka leg of the pipeline alone, for comparing producer settings by CPU per event
// (docs/BENCHMARKS.md, "The outbox, the relay and Kafka"): a single-node broker (the test
// fixture's), events like the write service's (JSON, 50 counters, a traceparent header each)
// published by kafka::KafkaPublisher the way the relay does (a batch of what accumulated since
// the last one, up to --batch, each acknowledged before the next), at a fixed rate, and
// consumed by a kafka::KafkaSubscriber with the analysis service's fetch settings. Each
// setting runs on a topic of its own (3 partitions), the settings in turn, --rounds times.
// Reported per run: µs of CPU per event of the broker (utime + stime of its process, idle
// included, and net of its use at rest measured just before) and of this process (producer
// and consumer: librdkafka's threads, the JSON), and the wall time from the first event
// produced to the last consumed.
//
//   kafka_cost_bench [--events N] [--rate R] [--batch B] [--rounds K]
//                    [--setting LINGER_MS,COMPRESSION ...]
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/event.hpp"
#include "core/trace.hpp"
#include "kafka/kafka_publisher.hpp"
#include "kafka/kafka_subscriber.hpp"
#include "kafka/kafka_test_broker.hpp"

namespace {

using namespace count;
using Clock = std::chrono::steady_clock;

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double OwnCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](timeval t) { return t.tv_sec + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct Setting {
  int linger_ms;
  std::string compression;
};

std::vector<core::Event> MakeEvents(std::size_t n) {
  std::vector<core::Event> events(n);
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  for (std::size_t i = 0; i < n; ++i) {
    auto& e = events[i];
    e.event_id = core::NewEventId();
    e.count_id = "pipeline-" + std::to_string(i % 50);
    e.delta = 1;
    e.value = static_cast<std::int64_t>(i / 50 + 1);
    e.timestamp = core::Timestamp(now.time_since_epoch());
    e.source = "count-write-service";
    e.trace = core::StartTrace();
  }
  return events;
}

void Run(kafka::testing::KafkaBroker& broker, const Setting& setting, const std::string& topic,
         const std::vector<core::Event>& events, double rate, std::size_t batch) {
  broker.CreateTopic(topic, 3);
  std::atomic<std::size_t> consumed{0};
  kafka::KafkaSubscriber subscriber(
      {.cluster = broker.cluster(),
       .group_id = topic + "-group",
       .topic = topic,
       .fetch_min_bytes = 262'144,
       .fetch_wait = std::chrono::milliseconds(100)},
      [&](std::span<const core::Event> got) { consumed += got.size(); });
  kafka::KafkaPublisher publisher({.cluster = broker.cluster(),
                                   .topic = topic,
                                   .linger = std::chrono::milliseconds(setting.linger_ms),
                                   .compression = setting.compression});
  subscriber.Start();
  if (!subscriber.WaitReady(std::chrono::seconds(60))) throw std::runtime_error("no partitions");
  publisher.Publish(std::span(events).first(1));  // connected before the clock starts
  while (consumed.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  const pid_t pid = broker.pid();
  const double idle0 = ProcessCpuSeconds(pid);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const double idle_rate = (ProcessCpuSeconds(pid) - idle0) / 3;

  const double broker0 = ProcessCpuSeconds(pid), own0 = OwnCpuSeconds();
  const auto start = Clock::now();
  std::size_t sent = 1, batches = 0;
  while (sent < events.size()) {
    // What the outbox holds by now (the write rate since the start), up to a batch.
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const auto due = std::min(events.size(), 1 + static_cast<std::size_t>(elapsed * rate));
    if (due <= sent) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    const std::size_t n = std::min(batch, due - sent);
    publisher.Publish(std::span(events).subspan(sent, n));
    sent += n;
    ++batches;
  }
  while (consumed.load() < events.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double broker_cpu = ProcessCpuSeconds(pid) - broker0, own = OwnCpuSeconds() - own0;
  const double n = static_cast<double>(events.size() - 1);
  std::printf(
      "linger %3d ms  %-5s  broker %6.2f µs/event (net of idle %6.2f)  producer+consumer "
      "%6.2f µs/event  %6zu batches  %6.1f s  %8.0f events/s\n",
      setting.linger_ms, setting.compression.c_str(), broker_cpu / n * 1e6,
      (broker_cpu - idle_rate * seconds) / n * 1e6, own / n * 1e6, batches, seconds, n / seconds);
  std::fflush(stdout);
  subscriber.Stop();
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t events = 300'000, batch = 5000;
  double rate = 30'000;
  int rounds = 2;
  std::vector<Setting> settings;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || i + 1 == argc) {
      std::cout << "kafka_cost_bench [--events N] [--rate R] [--batch B] [--rounds K]"
                   " [--setting LINGER_MS,COMPRESSION ...]\n";
      return flag == "--help" ? 0 : 2;
    }
    const std::string value = argv[i + 1];
    if (flag == "--events")
      events = std::stoul(value);
    else if (flag == "--rate")
      rate = std::stod(value);
    else if (flag == "--batch")
      batch = std::stoul(value);
    else if (flag == "--rounds")
      rounds = std::stoi(value);
    else if (flag == "--setting") {
      const auto comma = value.find(',');
      settings.push_back({std::stoi(value.substr(0, comma)), value.substr(comma + 1)});
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (settings.empty()) settings = {{5, "lz4"}, {5, "none"}, {5, "zstd"}, {20, "lz4"}};
  std::printf("%zu events at %.0f events/s, batches of up to %zu\n", events, rate, batch);
  kafka::testing::KafkaBroker broker;
  broker.Start();
  const auto all = MakeEvents(events);
  for (int round = 0; round < rounds; ++round)
    for (std::size_t s = 0; s < settings.size(); ++s)
      Run(broker, settings[s], "cost-" + std::to_string(round) + "-" + std::to_string(s), all, rate,
          batch);
  return 0;
}
