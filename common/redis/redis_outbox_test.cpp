#include "redis/redis_outbox.hpp"

#include <gtest/gtest.h>

#include "redis/redis_count_value_store.hpp"
#include "redis/redis_test_servers.hpp"

namespace count::redis {
namespace {

// Acknowledge forgets what the last Pending returned (one XTRIM) and nothing written after
// it, with the stream ids of events written in between.
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

  auto create = [&](const std::string& id) {
    core::CountInfo info;
    info.id = id;
    ASSERT_TRUE(store.Create(info, 0));
  };
  for (std::size_t i = 0; i < 5; ++i) create(ids[i]);
  const auto first = outbox.Pending(3);
  ASSERT_EQ(first.size(), 3u);
  create("outbox.late");  // written between the read and the acknowledgement
  outbox.Acknowledge(first);
  EXPECT_EQ(outbox.Backlog(), 3u);
  const auto rest = outbox.Pending(10);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].count_id, "outbox.4");
  EXPECT_EQ(rest[2].count_id, "outbox.late");
  outbox.Acknowledge(rest);
  EXPECT_EQ(outbox.Backlog(), 0u);
  outbox.Acknowledge({});  // nothing read since: nothing to forget
  EXPECT_EQ(outbox.Backlog(), 0u);
}

}  // namespace
}  // namespace count::redis
