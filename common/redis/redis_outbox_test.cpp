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
}

}  // namespace
}  // namespace count::redis
