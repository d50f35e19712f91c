#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/ports.hpp"
#include "core/problem.hpp"
#include "events/in_process_bus.hpp"
#include "events/outbox_relay.hpp"
#include "sqlite/sqlite_stores.hpp"
#include "testing/outbox_contract.hpp"
#include "testing/process.hpp"
#include "testing/relay_contract.hpp"

namespace count::events {
namespace {

using core::Event;

// A bus that can be switched off, to prove an outage delays events and loses none.
class FlakyBus final : public core::EventPublisher {
 public:
  explicit FlakyBus(InProcessBus& inner) : inner_(inner) {}
  void Publish(std::span<const Event> events) override {
    if (down.load()) throw core::StoreUnavailable("bus down");
    inner_.Publish(events);
  }
  std::atomic<bool> down{false};

 private:
  InProcessBus& inner_;
};

class RelayTest : public ::testing::Test {
 protected:
  void Create(const std::string& id) {
    const auto now = core::Now();
    core::CountInfo info{id, "", std::nullopt, std::nullopt, now, now};
    ASSERT_TRUE(infos.Create(info));
    ASSERT_TRUE(values.Create(info, 0));
  }
  void WaitFor(std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (received.size() >= n) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  testing::TempDir dir;
  sqlite::SqliteDatabase db{dir.path() / "count.db"};
  sqlite::SqliteCountInfoStore infos{db};
  sqlite::SqliteCountValueStore values{db, "test"};
  sqlite::SqliteEventOutbox outbox{db};
  InProcessBus bus;
  FlakyBus flaky{bus};
  std::mutex mu;
  std::vector<Event> received;
};

TEST_F(RelayTest, OneEventPerChangeInOrderAndNoLossAcrossAnOutage) {
  bus.Subscribe([&](std::span<const Event> events) {
    std::lock_guard lock(mu);
    received.insert(received.end(), events.begin(), events.end());
  });
  OutboxRelay relay(outbox, flaky, {.retry_min = std::chrono::milliseconds(5)});
  relay.Start();
  Create("a");
  Create("b");
  std::mt19937 rng(7);
  std::map<std::string, std::int64_t> expected{{"a", 0}, {"b", 0}};
  int changes = 2;
  for (int i = 0; i < 400; ++i) {
    if (i == 100) flaky.down = true;  // the bus goes away for a while
    if (i == 300) flaky.down = false;
    const std::string id = i % 2 ? "a" : "b";
    core::Mutation m{i % 3 ? core::MutationKind::kIncrement : core::MutationKind::kDecrement, id,
                     static_cast<std::int64_t>(rng() % 100 + 1)};
    if (i % 50 == 0) m = {core::MutationKind::kSet, id, 1000};
    auto r = values.Apply(std::span(&m, 1), nullptr);
    expected[id] = std::get<core::Applied>(r.outcomes[0]).value;
    ++changes;
  }
  WaitFor(changes);
  relay.Stop();
  std::lock_guard lock(mu);
  ASSERT_EQ(received.size(), static_cast<std::size_t>(changes));
  EXPECT_EQ(outbox.Backlog(), 0u);
  // Per counter: created first, then values in order; deltas sum to the final value.
  std::map<std::string, std::int64_t> sum, last;
  std::set<std::string> ids;
  for (const auto& e : received) {
    ids.insert(e.event_id);
    ASSERT_TRUE(e.delta);
    if (e.type == core::EventType::kCreated) {
      EXPECT_EQ(sum[e.count_id], 0);
    }
    sum[e.count_id] += *e.delta;
    EXPECT_EQ(sum[e.count_id], e.value) << e.count_id;
    last[e.count_id] = e.value;
  }
  EXPECT_EQ(ids.size(), received.size());
  EXPECT_EQ(last, expected);
}

TEST_F(RelayTest, ReadsAheadKeepingOrderAndLosingNothingAcrossAFailedPublish) {
  testing::ExpectRelayReadsAheadInOrderAcrossAFailedPublish(outbox, values, "");
}

TEST_F(RelayTest, StopHandsOverWhatIsPending) {
  bus.Subscribe([&](std::span<const Event> events) {
    std::lock_guard lock(mu);
    received.insert(received.end(), events.begin(), events.end());
  });
  Create("c");
  OutboxRelay relay(outbox, bus, {.idle_wait = std::chrono::seconds(10)});
  relay.Start();
  relay.Stop();
  EXPECT_EQ(received.size(), 1u);
  EXPECT_EQ(outbox.Backlog(), 0u);
}

TEST_F(RelayTest, DeleteAndUpdateInfoProduceEvents) {
  Create("d");
  const auto now = core::Now();
  EXPECT_EQ(values.UpdateInfo({"d", "x", std::nullopt, std::nullopt, now, now}),
            core::CountValueStore::UpdateResult::kUpdated);
  EXPECT_TRUE(values.Delete("d", /*purge_history=*/true));
  const auto events = outbox.Pending(10);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, core::EventType::kCreated);
  EXPECT_EQ(events[1].type, core::EventType::kUpdated);
  EXPECT_EQ(events[2].type, core::EventType::kDeleted);
  EXPECT_TRUE(events[2].purge_history);
  EXPECT_FALSE(events[1].purge_history);
}

TEST_F(RelayTest, SqliteOutboxKeepsEachEventsTrace) {
  Create("t");
  outbox.Acknowledge(outbox.Pending(10));
  testing::ExpectEventsCarryTheirTrace(values, outbox, "t");
}

TEST_F(RelayTest, SqliteOutboxAcknowledgesOnlyWhatPendingReturned) {
  testing::ExpectAcknowledgeForgetsOnlyWhatPendingReturned(
      outbox, [&](const std::string& id) { Create(id); }, "o");
}

}  // namespace
}  // namespace count::events
