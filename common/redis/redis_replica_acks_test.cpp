// WRITE_ACK=replica against a real 3-primary/3-replica Redis Cluster (redis_test_servers.hpp):
// WAIT goes to the node of the command before it, a write is answered durable once its
// shard's replica holds it and not while the shard has none, the relay reads the outbox from
// the replica, and what was answered survives its primary killed with SIGKILL.
#include "redis/redis_replica_acks.hpp"

#include <gtest/gtest.h>

#include <future>

#include "redis/cluster_slots.hpp"
#include "redis/redis_count_value_store.hpp"
#include "redis/redis_event_acks.hpp"
#include "redis/redis_grouped_outbox.hpp"
#include "redis/redis_loop_testing.hpp"
#include "redis/redis_test_servers.hpp"

namespace count::redis {
namespace {

using namespace std::chrono_literals;
using testing::Connected;
using testing::RedisCluster;
using testing::RedisServer;
using testing::WaitUntil;

TEST(PositionGroup, ReadsTheGroupPrefix) {
  EXPECT_EQ(PositionGroup("epoch/1-0"), 0u);
  EXPECT_EQ(PositionGroup("17@epoch/1-0"), 17u);
  EXPECT_EQ(PositionGroup("@epoch/1-0"), std::nullopt);
  EXPECT_EQ(PositionGroup("x@epoch/1-0"), std::nullopt);
}

bool Durable(core::EventAcks& acks, const std::string& position) {
  std::promise<bool> answer;
  acks.Await(position, [&](bool durable) { answer.set_value(durable); });
  return answer.get_future().get();
}

// One primary with a replica (REDIS_URL or Sentinel): one group, positions without a prefix.
TEST(RedisReplicaAcks, WorksOnOnePrimaryWithAReplica) {
  testing::RedisTopology& topology = testing::SharedTopology();
  RedisClient writes(topology.primary().endpoint(), {.pool_size = 1});
  RedisClient fenced(topology.primary().endpoint(), {.pool_size = 1});
  const KeyLayout layout = KeyLayout::Single();
  RedisReplicaAcks acks(fenced, layout, {.wait = 600ms});
  // The replica's first synchronisation may still be running (Redis waits
  // repl-diskless-sync-delay for more replicas first), and for a moment after it WAIT counts
  // no replica yet: wait until it does on a connection of the test's own.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return writes.Pipeline({{"SET", "replica-acks:ready", "1"}, {"WAIT", "1", "100"}})[1]
                   .integer == 1;
      },
      30s));
  for (int i = 1; i <= 20; ++i) {
    ASSERT_EQ(writes.Command({"INCR", "replica-acks:n"}).integer, i);
    ASSERT_TRUE(Durable(acks, "epoch/1-0"));
    RedisClient direct(topology.replica().endpoint(), {.pool_size = 1});
    ASSERT_EQ(direct.Command({"GET", "replica-acks:n"}).str, std::to_string(i));
  }
  // Two replicas asked for, one there: not durable, answered when the wait is up.
  RedisReplicaAcks two(fenced, layout, {.wait = 300ms, .replicas = 2});
  EXPECT_FALSE(Durable(two, "epoch/1-0"));
}

TEST(RedisReplicaAcks, AnswersOnceAReplicaHoldsTheWriteAndKeepsItThroughAFailover) {
  RedisCluster cluster;
  const KeyLayout layout = KeyLayout::Cluster(6);
  ClusterConfig config = ParseClusterNodes(cluster.seeds());
  RedisClient writes(config, {.pool_size = 1, .timeout = 500ms});
  RedisClient fenced(config, {.pool_size = 1, .timeout = 2s});
  RedisReplicaAcks acks(fenced, layout, {.wait = 600ms});
  Connected c(writes);

  // A command without a key goes to the node of the command before it (a group whose shard is
  // not slot 0's, where a command without a key would go otherwise).
  const std::size_t group = layout.groups() - 1;
  const std::string key = layout.Stream(group) + ":n", position = std::to_string(group) + "@e/1-0";
  RedisServer* primary = cluster.PrimaryOf(KeySlot(key));
  ASSERT_NE(primary, cluster.PrimaryOf(0));
  const auto routed = c.Send({{"SET", key, "0"}, {"CLUSTER", "MYID"}});
  ASSERT_FALSE(routed.error);
  EXPECT_EQ(routed.replies[1].str, RedisCluster::IdOf(*primary));

  // Every acknowledged write is on the replica the moment it is answered (once WAIT counts the
  // replica at all: for a moment after its first synchronisation it does not).
  RedisServer* replica = cluster.ReplicaOf(*primary);
  ASSERT_NE(replica, nullptr);
  ASSERT_TRUE(WaitUntil([&] {
    const auto a = c.Send({{"SET", key, "0"}, {"WAIT", "1", "100"}});
    return !a.error && a.replies[1].integer == 1;
  }));
  for (int i = 1; i <= 50; ++i) {
    ASSERT_EQ(c.Command({"INCR", key}).integer, i);
    ASSERT_TRUE(Durable(acks, position));
    RedisClient direct(replica->endpoint(), {.pool_size = 1});
    ASSERT_EQ(direct.Pipeline({{"READONLY"}, {"GET", key}})[1].str, std::to_string(i));
  }
  // The relay reads the outbox from the replicas (the lease and the trim run on the
  // primary), so it publishes only what a replica holds.
  {
    RedisClient replica_reads = [&] {
      ClusterConfig reads = config;
      reads.replica_reads = true;
      return RedisClient(reads, {.pool_size = 1, .timeout = 2s});
    }();
    RedisCountValueStore values(writes, core::Now, {}, layout);
    std::string id = "relayed";
    while (layout.GroupOf(id) != group) id += "x";
    ASSERT_TRUE(values.Create({id, "", std::nullopt, std::nullopt, {}, {}}, 7));
    const auto ranges = [&](RedisServer& node) {
      const std::string info = testing::Run(node.endpoint(), {"INFO", "commandstats"}).str;
      const auto at = info.find("cmdstat_xrange:calls=");
      return at == std::string::npos ? 0 : std::stoi(info.substr(at + 21));
    };
    const int before = ranges(*replica);
    RedisGroupedOutbox outbox(replica_reads, "relay", layout);
    std::vector<core::Event> events;
    ASSERT_TRUE(WaitUntil([&] { return !(events = outbox.Pending(100)).empty(); }));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].count_id, id);
    EXPECT_EQ(events[0].value, 7);
    outbox.Acknowledge(events);
    EXPECT_GT(ranges(*replica), before);
    EXPECT_EQ(c.Command({"XLEN", layout.Stream(group)}).integer, 0);  // trimmed on the primary

    // WRITE_ACK=kafka on a cluster: a position names its group and is followed in that
    // group's record, after the replica holds the change.
    RedisEventAcks bus(writes, {.wait = 600ms}, layout);
    core::AcksInTurn both(acks, bus);
    const core::Mutation add{core::MutationKind::kIncrement, id, 1};
    const auto applied = values.Apply({&add, 1}, nullptr);
    EXPECT_TRUE(applied.position.starts_with(std::to_string(group) + "@")) << applied.position;
    std::promise<bool> answer;
    both.Await(applied.position, [&](bool durable) { answer.set_value(durable); });
    ASSERT_TRUE(WaitUntil([&] { return !(events = outbox.Pending(100)).empty(); }));
    outbox.Acknowledge(events);  // the bus took it: the group's record moves past it
    EXPECT_TRUE(answer.get_future().get());
    const auto later = values.Apply({&add, 1}, nullptr);
    EXPECT_FALSE(Durable(both, later.position));  // never relayed
    EXPECT_EQ(acks.Waiting() + bus.Waiting(), 0u);
    outbox.Release();
  }
  EXPECT_FALSE(Durable(acks, "x@e/1-0"));  // not a position
  EXPECT_FALSE(Durable(acks, "6@e/1-0"));  // no such group
  EXPECT_EQ(acks.Waiting(), 0u);

  // The primary killed: the replica takes over with every answered write, and writes resume.
  primary->process().Kill();
  ASSERT_TRUE(WaitUntil([&] { return cluster.PrimaryOf(KeySlot(key)) == replica; }, 30s));
  ASSERT_TRUE(WaitUntil([&] { return !c.Send({{"INCR", key}}).error; }, 30s));
  EXPECT_EQ(c.Command({"GET", key}).str, "51");
  // The promoted replica has no replica of its own: nothing written now is durable, while the
  // other shards' writes still are.
  EXPECT_FALSE(Durable(acks, position));
  std::size_t other = 0;
  while (cluster.PrimaryOf(KeySlot(layout.Stream(other))) == replica) ++other;
  ASSERT_EQ(c.Command({"INCR", layout.Stream(other) + ":n"}).integer, 1);
  EXPECT_TRUE(Durable(acks, std::to_string(other) + "@e/1-0"));
}

}  // namespace
}  // namespace count::redis
