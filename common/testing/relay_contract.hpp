#pragma once
// What events::OutboxRelay must do on every outbox that reads ahead (SQLite's table and the
// Redis stream): read the next batch while the bus takes the previous one, and across a failed
// publish lose nothing and reorder nothing. The test links count_events.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/ports.hpp"
#include "core/problem.hpp"
#include "events/in_process_bus.hpp"
#include "events/outbox_relay.hpp"

namespace count::testing {

// A bus that takes a while for each batch and fails one of them once the relay has read
// ahead.
class SlowBus final : public core::EventPublisher {
 public:
  explicit SlowBus(events::InProcessBus& inner) : inner_(inner) {}
  void Publish(std::span<const core::Event> events) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    const bool fail = ++calls == fail_call;
    if (!fail) inner_.Publish(events);
    if (fail) throw core::StoreUnavailable("bus lost the batch");
  }
  std::atomic<int> calls{0};
  int fail_call = 0;

 private:
  events::InProcessBus& inner_;
};

// An outbox that notes each read made while a batch it handed out was not yet acknowledged,
// that is, read ahead of the batch the bus was taking. (Not "while the bus was in Publish":
// the relay reads the next batch right after handing one to its publishing thread, which may
// not have begun yet on a busy machine.)
class WatchedOutbox final : public core::EventOutbox {
 public:
  explicit WatchedOutbox(core::EventOutbox& inner) : inner_(inner) {}
  std::vector<core::Event> Pending(std::size_t max) override {
    if (unacknowledged_.load() > 0) ++reads_ahead;
    auto events = inner_.Pending(max);
    if (!events.empty()) ++unacknowledged_;
    return events;
  }
  void Acknowledge(std::span<const core::Event> events) override {
    inner_.Acknowledge(events);
    --unacknowledged_;
  }
  std::size_t Backlog() override { return inner_.Backlog(); }
  void Wait(std::chrono::milliseconds max) override { inner_.Wait(max); }
  bool ReadsAhead() const override { return inner_.ReadsAhead(); }
  void Rewind() override {
    inner_.Rewind();
    unacknowledged_ = 0;
  }
  std::atomic<int> reads_ahead{0};

 private:
  core::EventOutbox& inner_;
  std::atomic<int> unacknowledged_{0};  // batches handed out and not yet acknowledged
};

// `outbox` holds the events of `values` and starts empty. Three counters (`prefix` + p, q,
// r) are created and incremented 60 times before the relay starts, so its batches of 7 are
// full; the bus fails its fourth batch, after the next one was read.
inline void ExpectRelayReadsAheadInOrderAcrossAFailedPublish(core::EventOutbox& outbox,
                                                             core::CountValueStore& values,
                                                             const std::string& prefix) {
  ASSERT_TRUE(outbox.ReadsAhead());
  ASSERT_EQ(outbox.Backlog(), 0u);
  events::InProcessBus bus;
  std::mutex mu;
  std::vector<core::Event> received;
  bus.Subscribe([&](std::span<const core::Event> events) {
    std::lock_guard lock(mu);
    received.insert(received.end(), events.begin(), events.end());
  });
  SlowBus slow(bus);
  slow.fail_call = 4;
  WatchedOutbox watched(outbox);
  std::atomic<int> errors{0};
  events::OutboxRelay relay(watched, slow,
                            {.batch = 7,
                             .retry_min = std::chrono::milliseconds(5),
                             .on_error = [&](const std::exception&) { ++errors; }});
  const std::vector<std::string> ids = {prefix + "p", prefix + "q", prefix + "r"};
  for (const auto& id : ids) {
    core::CountInfo info;
    info.id = id;
    ASSERT_TRUE(values.Create(info, 0));
  }
  std::map<std::string, std::int64_t> expected;
  for (int i = 0; i < 60; ++i) {
    const std::string& id = ids[i % 3];
    core::Mutation m{core::MutationKind::kIncrement, id, i + 1};
    expected[id] =
        std::get<core::Applied>(values.Apply(std::span(&m, 1), nullptr).outcomes[0]).value;
  }
  relay.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (received.size() >= 63) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  relay.Stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(errors.load(), 1);
  EXPECT_GT(watched.reads_ahead.load(), 0);  // it did read ahead
  EXPECT_EQ(outbox.Backlog(), 0u);
  // Every event once (the failed batch was never delivered), each counter's in order.
  ASSERT_EQ(received.size(), 63u);
  std::map<std::string, std::int64_t> sum;
  std::set<std::string> event_ids;
  for (const auto& e : received) {
    event_ids.insert(e.event_id);
    sum[e.count_id] += e.delta.value_or(0);
    EXPECT_EQ(sum[e.count_id], e.value) << e.count_id;
  }
  EXPECT_EQ(event_ids.size(), 63u);
  EXPECT_EQ(sum, expected);
}

}  // namespace count::testing
