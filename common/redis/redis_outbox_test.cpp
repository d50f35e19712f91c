#include "redis/redis_outbox.hpp"

#include <gtest/gtest.h>

#include "redis/redis_count_value_store.hpp"
#include "redis/redis_test_servers.hpp"
#include "testing/outbox_contract.hpp"

namespace count::redis {
namespace {

// Acknowledge forgets what the last Pending returned (one XTRIM past its last stream id) and
// nothing written after it.
TEST(RedisOutboxTest, AcknowledgeForgetsOnlyWhatPendingReturned) {
  RedisClient client(testing::SharedTopology().primary().endpoint());
  RedisCountValueStore store(client);
  const std::vector<std::string> ids = {"outbox.1", "outbox.2", "outbox.3",
                                        "outbox.4", "outbox.5", "outbox.late"};
  for (const auto& id : ids) store.Delete(id, false);
  RedisEventOutbox outbox(client, "outbox-test");
  for (auto batch = outbox.Pending(1000); !batch.empty(); batch = outbox.Pending(1000))
    outbox.Acknowledge(batch);
  ASSERT_EQ(outbox.Backlog(), 0u);

  count::testing::ExpectAcknowledgeForgetsOnlyWhatPendingReturned(
      outbox,
      [&](const std::string& id) {
        core::CountInfo info;
        info.id = id;
        ASSERT_TRUE(store.Create(info, 0));
      },
      "outbox.");
  outbox.Acknowledge({});  // nothing read since: nothing to forget
  EXPECT_EQ(outbox.Backlog(), 0u);
  outbox.Release();  // the next test's outbox leads at once
}

TEST(RedisOutboxTest, EventsKeepTheTraceOfTheirMutation) {
  RedisClient client(testing::SharedTopology().primary().endpoint());
  RedisCountValueStore store(client);
  RedisEventOutbox outbox(client, "outbox-test");
  store.Delete("outbox.traced", false);
  core::CountInfo info;
  info.id = "outbox.traced";
  ASSERT_TRUE(store.Create(info, 0));
  for (auto batch = outbox.Pending(1000); !batch.empty(); batch = outbox.Pending(1000))
    outbox.Acknowledge(batch);
  count::testing::ExpectEventsCarryTheirTrace(store, outbox, "outbox.traced");
  outbox.Release();  // the next test's outbox leads at once
}

// A script call's events share one stream entry, however many: the relay reads every event
// back, in order (an entry larger than a batch comes whole), and the backlog counts events,
// not entries.
TEST(RedisOutboxTest, ALargeBatchComesBackWholeAndInOrder) {
  RedisClient client(testing::SharedTopology().primary().endpoint());
  RedisCountValueStore store(client);
  RedisEventOutbox outbox(client, "outbox-test");
  store.Delete("outbox.large", false);
  core::CountInfo info;
  info.id = "outbox.large";
  ASSERT_TRUE(store.Create(info, 0));
  for (auto batch = outbox.Pending(1000); !batch.empty(); batch = outbox.Pending(1000))
    outbox.Acknowledge(batch);
  ASSERT_EQ(outbox.Backlog(), 0u);

  const auto traced =
      core::ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  std::vector<core::Mutation> mutations;
  for (std::size_t i = 0; i < RedisCountValueStore::kMaxBatch; ++i)
    mutations.push_back({core::MutationKind::kIncrement, "outbox.large", 1,
                         i % 2 ? *traced : core::TraceContext{}});
  ASSERT_EQ(store.Apply(mutations, nullptr).status, core::ApplyResult::Status::kApplied);
  EXPECT_EQ(outbox.Backlog(), RedisCountValueStore::kMaxBatch);
  EXPECT_EQ(client.Command({"XLEN", std::string(kEventStream)}).integer, 1);

  std::vector<core::Event> events;
  for (auto batch = outbox.Pending(300); !batch.empty(); batch = outbox.Pending(300)) {
    events.insert(events.end(), batch.begin(), batch.end());
    outbox.Acknowledge(batch);
  }
  ASSERT_EQ(events.size(), RedisCountValueStore::kMaxBatch);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].value, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(events[i].delta, 1);
    EXPECT_EQ(events[i].trace.IsValid(), i % 2 == 1);
  }
  EXPECT_EQ(outbox.Backlog(), 0u);
  EXPECT_EQ(client.Command({"XLEN", std::string(kEventStream)}).integer, 0);
  outbox.Release();  // the next test's outbox leads at once
}

}  // namespace
}  // namespace count::redis
