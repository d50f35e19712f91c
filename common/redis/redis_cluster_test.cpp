// Redis Cluster routing: the slot rule (cluster_slots.hpp) against Redis's own answers, and the
// loop client (redis_connection.hpp) against a real 3-primary/3-replica cluster the fixtures
// start: routing, MOVED after a slot moved, ASK while it moves, replica reads, and a primary
// killed with SIGKILL; the value stores on it: each group on its shard, batches spanning groups
// split and answered as one (also when a primary dies midway), the contract suite.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>

#include "core/ports.hpp"
#include "events/outbox_relay.hpp"
#include "redis/cluster_slots.hpp"
#include "redis/key_layout.hpp"
#include "redis/redis_connection.hpp"
#include "redis/redis_event_acks.hpp"
#include "redis/redis_grouped_outbox.hpp"
#include "redis/redis_loop_testing.hpp"
#include "redis/redis_test_servers.hpp"
#include "testing/count_value_store_contract.hpp"
#include "testing/relay_contract.hpp"

namespace count::redis {
namespace {

using namespace std::chrono_literals;
using testing::Answer;
using testing::Connected;
using testing::RedisCluster;
using testing::RedisServer;
using testing::WaitUntil;

TEST(KeySlot, FollowsTheClusterSpec) {
  EXPECT_EQ(KeySlot("123456789"), 0x31C3);  // the CRC16-XMODEM check value
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_EQ(KeySlot("foo{}{bar}"), KeySlot("foo{}{bar}"));  // empty tag: the whole key
  EXPECT_NE(KeySlot("foo{}{bar}"), KeySlot("bar"));
  EXPECT_EQ(KeySlot("foo{{bar}}zap"), KeySlot("{bar"));
  EXPECT_EQ(KeySlot("foo{bar}{zap}"), KeySlot("bar"));
  EXPECT_EQ(KeySlot(""), 0);
}

TEST(CommandKey, NamesTheKeyThatRoutes) {
  using Args = std::vector<std::string>;
  EXPECT_EQ(CommandKey(Args{"HGETALL", "count:{a}"}), "count:{a}");
  EXPECT_EQ(CommandKey(Args{"evalsha", "abc", "2", "k1", "k2", "arg"}), "k1");
  EXPECT_EQ(CommandKey(Args{"EVAL", "return 1", "0", "arg"}), std::nullopt);
  EXPECT_EQ(CommandKey(Args{"EVAL", "return 1", "x"}), std::nullopt);
  EXPECT_EQ(CommandKey(Args{"XREAD", "COUNT", "5", "STREAMS", "s1", "0"}), "s1");
  EXPECT_EQ(CommandKey(Args{"PING"}), std::nullopt);
  EXPECT_EQ(CommandKey(Args{"cluster", "slots"}), std::nullopt);
  EXPECT_EQ(CommandKey(Args{"SCAN", "0"}), std::nullopt);
}

TEST(ParseRedirect, ReadsMovedAndAsk) {
  Reply moved{Reply::Type::kError, 0, "MOVED 3999 127.0.0.1:6381", {}};
  auto m = ParseRedirect(moved);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->ask);
  EXPECT_EQ(m->slot, 3999);
  EXPECT_EQ(m->host, "127.0.0.1");
  EXPECT_EQ(m->port, 6381);
  auto a = ParseRedirect(Reply{Reply::Type::kError, 0, "ASK 1 redis-2.redis:6379", {}});
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->ask);
  EXPECT_EQ(a->host, "redis-2.redis");
  EXPECT_FALSE(ParseRedirect(Reply{Reply::Type::kError, 0, "ERR no", {}}));
  EXPECT_FALSE(ParseRedirect(Reply{Reply::Type::kError, 0, "MOVED 16384 h:1", {}}));
  EXPECT_FALSE(ParseRedirect(Reply{Reply::Type::kError, 0, "MOVED 1 :1", {}}));
  EXPECT_FALSE(ParseRedirect(Reply{Reply::Type::kString, 0, "MOVED 1 h:1", {}}));
}

TEST(ParseClusterNodes, ReadsTheSeedList) {
  ClusterConfig config = ParseClusterNodes("r0:7000, r1 ,10.0.0.3:7002");
  ASSERT_EQ(config.seeds.size(), 3u);
  EXPECT_EQ(config.seeds[0], (std::pair<std::string, int>{"r0", 7000}));
  EXPECT_EQ(config.seeds[1], (std::pair<std::string, int>{"r1", 6379}));
  EXPECT_THROW(ParseClusterNodes(""), std::invalid_argument);
  EXPECT_THROW(ParseClusterNodes("r0:x"), std::invalid_argument);
  EXPECT_THROW(ParseClusterNodes(":1"), std::invalid_argument);
}

TEST(KeyLayout, OneServerKeepsTodaysNames) {
  const KeyLayout layout = KeyLayout::Single();
  EXPECT_FALSE(layout.clustered());
  EXPECT_EQ(layout.groups(), 1u);
  EXPECT_EQ(layout.GroupOf("anything"), 0u);
  EXPECT_EQ(layout.Counter("page.views"), "count:{page.views}");
  EXPECT_EQ(layout.Idempotency(0, "k"), "idem:k");
  EXPECT_EQ(layout.Stream(0), kEventStream);
  EXPECT_EQ(layout.Stream(0) + ":epoch", kEventEpoch);
  EXPECT_EQ(layout.CounterPattern(), "count:{*");
}

TEST(KeyLayout, GroupsAreOneSlotEachAndSpreadEvenlyOverShards) {
  const KeyLayout layout = KeyLayout::Cluster();
  ASSERT_EQ(layout.groups(), 60u);
  // The slot ranges redis-cli --cluster create gives three primaries.
  std::array<int, 3> per_shard{};
  for (std::size_t g = 0; g < layout.groups(); ++g) {
    const int slot = KeySlot(layout.Stream(g));
    EXPECT_GE(slot, static_cast<int>(g * kClusterSlots / 60));
    EXPECT_LT(slot, static_cast<int>((g + 1) * kClusterSlots / 60));
    for (const char* suffix : {":size", ":epoch", ":published", ":relay"})
      EXPECT_EQ(KeySlot(layout.Stream(g) + suffix), slot);
    EXPECT_EQ(KeySlot(layout.Idempotency(g, "api:k")), slot);
    ++per_shard[slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2];
  }
  EXPECT_EQ(per_shard, (std::array<int, 3>{20, 20, 20}));
  std::vector<int> per_group(layout.groups());
  for (int i = 0; i < 6000; ++i) {
    const std::string id = "counter-" + std::to_string(i);
    const auto g = layout.GroupOf(id);
    ASSERT_LT(g, layout.groups());
    EXPECT_EQ(KeySlot(layout.Counter(id)), KeySlot(layout.Stream(g)));
    ++per_group[g];
  }
  for (int n : per_group) {  // 100 expected each
    EXPECT_GT(n, 50);
    EXPECT_LT(n, 150);
  }
  EXPECT_THROW(KeyLayout::Cluster(0), std::invalid_argument);
  EXPECT_THROW(KeyLayout::Cluster(KeyLayout::kMaxGroups + 1), std::invalid_argument);
}

// Started once for the tests that only read and move slots (the SIGKILL test has its own),
// stopped when the tests end.
std::unique_ptr<RedisCluster> shared_cluster;

class SharedClusterEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { shared_cluster.reset(); }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new SharedClusterEnvironment);

RedisCluster& SharedCluster() {
  if (!shared_cluster) shared_cluster = std::make_unique<RedisCluster>();
  return *shared_cluster;
}

// Whether `replica` holds `key` = `value` yet (replication is asynchronous; WAIT would have to
// run on the connection that wrote).
bool ReplicaHas(RedisServer& replica, const std::string& key, const std::string& value) {
  RedisClient direct(replica.endpoint(), {.pool_size = 1});
  return direct.Pipeline({{"READONLY"}, {"GET", key}})[1].str == value;
}

// A count of `node`'s INFO `section`: the number after `field`, 0 when absent.
int InfoCount(RedisServer& node, const std::string& section, const std::string& field) {
  const std::string info = testing::Run(node.endpoint(), {"INFO", section}).str;
  const auto at = info.find(field);
  return at == std::string::npos ? 0 : std::stoi(info.substr(at + field.size()));
}

// How many times `node` answered with the error `code` (MOVED, ASK).
int Errors(RedisServer& node, const std::string& code) {
  return InfoCount(node, "errorstats", "errorstat_" + code + ":count=");
}

RedisClient ClientOf(RedisCluster& cluster, bool replica_reads = false) {
  ClusterConfig config = ParseClusterNodes(cluster.seeds());
  config.replica_reads = replica_reads;
  return RedisClient(config, {.pool_size = 1, .timeout = 2s});
}

TEST(KeySlot, AgreesWithTheServer) {
  RedisServer& node = *SharedCluster().nodes().front();
  std::mt19937 random(7);
  for (int i = 0; i < 200; ++i) {
    std::string key =
        "k" + std::to_string(random()) + (i % 3 == 0 ? "{t" + std::to_string(i) + "}" : "");
    ASSERT_EQ(KeySlot(key), testing::Run(node.endpoint(), {"CLUSTER", "KEYSLOT", key}).integer)
        << key;
  }
}

TEST(RedisLoopCluster, SendsEachCommandToTheNodeServingItsSlot) {
  RedisCluster& cluster = SharedCluster();
  RedisClient client = ClientOf(cluster);
  Connected c(client);
  std::vector<std::vector<std::string>> sets, gets;
  for (int i = 0; i < 300; ++i) {
    sets.push_back({"SET", "route:" + std::to_string(i), std::to_string(i)});
    gets.push_back({"GET", "route:" + std::to_string(i)});
  }
  Answer set = c.Send(sets);
  ASSERT_FALSE(set.error);
  for (const auto& r : set.replies) ASSERT_EQ(r.str, "OK");
  Answer got = c.Send(gets);
  ASSERT_FALSE(got.error);
  std::set<int> ports;
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(got.replies[i].str, std::to_string(i));
    // Stored where the cluster says the key lives, and asked there directly: no redirection.
    RedisServer* owner = cluster.PrimaryOf(KeySlot(gets[i][1]));
    ASSERT_NE(owner, nullptr);
    EXPECT_EQ(testing::Run(owner->endpoint(), {"GET", gets[i][1]}).str, std::to_string(i));
    ports.insert(owner->port());
  }
  EXPECT_EQ(ports.size(), 3u);  // the keys spread over the three primaries
  // Keys of one hash tag run in one script; keys of two slots are refused, as Redis does.
  EXPECT_EQ(c.Command({"EVAL", "redis.call('SET', KEYS[1], 1) return redis.call('INCR', KEYS[2])",
                       "2", "{g1}a", "{g1}b"})
                .integer,
            1);
  EXPECT_TRUE(c.Command({"EVAL", "return redis.call('GET', KEYS[2])", "2", "{g1}a", "{g2}a"})
                  .str.starts_with("CROSSSLOT"));
}

// The blocking client routes through the same router, on a loop of its own.
TEST(RedisClientCluster, RoutesBlockingCallsToo) {
  RedisCluster& cluster = SharedCluster();
  RedisClient client = ClientOf(cluster);
  EXPECT_TRUE(client.Ping());
  std::vector<std::vector<std::string>> sets;
  for (int i = 0; i < 100; ++i)
    sets.push_back({"SET", "blocking:" + std::to_string(i), std::to_string(i)});
  for (const auto& r : client.Pipeline(sets)) ASSERT_EQ(r.str, "OK");
  for (int i = 0; i < 100; i += 7) {
    const std::string key = "blocking:" + std::to_string(i);
    EXPECT_EQ(client.Command({"GET", key}).str, std::to_string(i));
    EXPECT_EQ(testing::Run(cluster.PrimaryOf(KeySlot(key))->endpoint(), {"GET", key}).str,
              std::to_string(i));
  }
}

TEST(RedisLoopCluster, FollowsASlotThatMovedAndOneThatIsMoving) {
  RedisCluster& cluster = SharedCluster();
  RedisClient client = ClientOf(cluster);
  Connected c(client);
  const std::string moved = "{moved}k", asked = "{asked}k", stays = "{asked}stays";
  ASSERT_EQ(c.Command({"SET", moved, "1"}).str, "OK");
  ASSERT_EQ(c.Command({"SET", asked, "2"}).str, "OK");
  ASSERT_EQ(c.Command({"SET", stays, "3"}).str, "OK");  // the client now knows both slots

  // MOVED: the slot is another primary's now; the client's table says otherwise.
  const int slot = KeySlot(moved);
  RedisServer* from = cluster.PrimaryOf(slot);
  RedisServer* to = nullptr;
  for (auto* n : cluster.nodes())
    if (n != from && testing::Run(n->endpoint(), {"ROLE"}).elements.at(0).str == "master") to = n;
  ASSERT_NE(to, nullptr);
  cluster.MoveSlot(slot, *to);
  ASSERT_EQ(cluster.PrimaryOf(slot), to);
  const int moved_before = Errors(*from, "MOVED");
  EXPECT_EQ(c.Command({"INCR", moved}).integer, 2);
  EXPECT_EQ(Errors(*from, "MOVED"), moved_before + 1);  // sent by the old table, redirected
  EXPECT_EQ(c.Command({"INCR", moved}).integer, 3);
  EXPECT_EQ(Errors(*from, "MOVED"), moved_before + 1);  // then sent where the slot is
  EXPECT_EQ(testing::Run(to->endpoint(), {"GET", moved}).str, "3");

  // ASK: the slot is migrating, one of its keys already moved, the other not yet.
  const int moving = KeySlot(asked);
  RedisServer* source = cluster.PrimaryOf(moving);
  RedisServer* target = source == to ? from : to;
  cluster.BeginMove(moving, *source, *target);
  cluster.MoveKeys(moving, *source, *target, {asked});
  const int ask_before = Errors(*source, "ASK");
  EXPECT_EQ(c.Command({"INCR", asked}).integer, 3);  // ASK: served by the target
  EXPECT_EQ(Errors(*source, "ASK"), ask_before + 1);
  EXPECT_EQ(c.Command({"INCR", stays}).integer, 4);  // still the source's
  EXPECT_EQ(testing::Run(source->endpoint(), {"GET", stays}).str, "4");
  cluster.MoveKeys(moving, *source, *target);
  cluster.FinishMove(moving, *target);
  EXPECT_EQ(c.Command({"GET", asked}).str, "3");  // MOVED now
  EXPECT_EQ(c.Command({"GET", stays}).str, "4");
  EXPECT_EQ(testing::Run(target->endpoint(), {"GET", stays}).str, "4");
}

TEST(RedisLoopCluster, ReadsFromReplicasWhenAskedTo) {
  RedisCluster& cluster = SharedCluster();
  RedisClient client = ClientOf(cluster, true);
  Connected c(client);
  const std::string key = "{replica}k";
  ASSERT_EQ(c.Command({"SET", key, "7"}).str, "OK");
  RedisServer* primary = cluster.PrimaryOf(KeySlot(key));
  RedisServer* replica = cluster.ReplicaOf(*primary);
  ASSERT_NE(replica, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return ReplicaHas(*replica, key, "7"); }));
  auto gets = [&](RedisServer& n) { return InfoCount(n, "commandstats", "cmdstat_get:calls="); };
  const int before = gets(*replica);
  EXPECT_EQ(c.Command({"GET", key}).str, "7");
  EXPECT_EQ(gets(*replica), before + 1);
  // A write still goes to the primary.
  EXPECT_EQ(c.Command({"INCR", key}).integer, 8);
}

TEST(RedisLoopCluster, ResumesAfterAPrimaryIsKilled) {
  RedisCluster cluster;
  ClusterConfig config = ParseClusterNodes(cluster.seeds());
  RedisClient client(config, {.pool_size = 1, .timeout = 500ms});
  Connected c(client);
  const std::string key = "{failover}n";
  ASSERT_EQ(c.Command({"SET", key, "0"}).str, "OK");
  RedisServer* primary = cluster.PrimaryOf(KeySlot(key));
  RedisServer* replica = cluster.ReplicaOf(*primary);
  ASSERT_NE(replica, nullptr);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.Command({"INCR", key}).integer, i + 1);
  ASSERT_TRUE(WaitUntil([&] { return ReplicaHas(*replica, key, "20"); }));

  primary->process().Kill();  // SIGKILL
  // Writes fail until the replica is promoted, then succeed by themselves (no new client).
  int failed = 0;
  std::int64_t value = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        Answer a = c.Send({{"INCR", key}});
        if (a.error || a.replies.front().IsError()) {
          ++failed;
          return false;
        }
        value = a.replies.front().integer;
        return true;
      },
      30s));
  EXPECT_GT(failed, 0);
  EXPECT_EQ(value, 21);  // every increment the replica had is kept
  EXPECT_EQ(cluster.PrimaryOf(KeySlot(key)), replica);
  EXPECT_EQ(c.Command({"GET", key}).str, "21");
}

// Counters of many groups: each written by one script on its group's shard, with its events in
// its group's outbox; a request spanning groups is split per group and answered as one.
TEST(RedisClusterStore, WritesEachGroupOnItsShardAndSplitsRequestsSpanningGroups) {
  RedisCluster& cluster = SharedCluster();
  RedisClient client = ClientOf(cluster);
  testing::LoopStore s(client, KeyLayout::Cluster());
  const KeyLayout& layout = s.values().layout();
  auto outbox_events = [&] {
    std::vector<std::vector<std::string>> sizes;
    for (std::size_t g = 0; g < layout.groups(); ++g)
      sizes.push_back({"GET", layout.Stream(g) + ":size"});
    long long n = 0;
    for (const auto& r : client.Pipeline(sizes))
      if (!r.IsNil()) n += std::stoll(r.str);
    return n;
  };
  const long long events_before = outbox_events();
  const std::string run = std::to_string(std::random_device{}());
  std::vector<std::string> ids;
  std::set<std::size_t> groups;
  for (int i = 0; i < 30; ++i) {
    ids.push_back("spread" + std::to_string(i) + "." + run);
    groups.insert(layout.GroupOf(ids.back()));
    ASSERT_TRUE(s.values().Create({ids.back(), "", std::nullopt, std::nullopt, {}, {}}, 0));
  }
  ASSERT_GT(groups.size(), 10u);
  for (int i = 0; i < 30; ++i) {
    const core::Mutation add{core::MutationKind::kIncrement, ids[i], i + 1};
    const core::IdempotencyKey key{"k" + ids[i], "fp"};
    auto r = s.Apply({&add, 1}, &key);
    ASSERT_EQ(std::get<core::Applied>(r.outcomes.at(0)).value, i + 1);
    EXPECT_EQ(s.Apply({&add, 1}, &key).status, core::ApplyResult::Status::kReplayed);
  }
  auto many = s.Read<std::vector<std::optional<core::CountRecord>>>(
      [&](auto& store, auto done) { store.GetMany(ids, done); });
  ASSERT_EQ(many.size(), ids.size());
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(many[i]);
    EXPECT_EQ(many[i]->value, i + 1);
    const std::string key = layout.Counter(ids[i]);
    EXPECT_EQ(testing::Run(cluster.PrimaryOf(KeySlot(key))->endpoint(), {"HGET", key, "v"}).str,
              std::to_string(i + 1));
  }
  EXPECT_EQ(outbox_events() - events_before, 60);  // created and incremented, each counter

  std::size_t other = 1;
  while (layout.GroupOf(ids[other]) == layout.GroupOf(ids[0])) ++other;
  const auto value_of = [&](const core::ApplyResult& r, std::size_t i) {
    return std::get<core::Applied>(r.outcomes.at(i)).value;
  };
  const auto first = static_cast<std::int64_t>(other) + 1;  // ids[other]'s value now
  // Split per group, answered in request order; each counter's operations keep their order.
  const std::vector<core::Mutation> spanning{{core::MutationKind::kIncrement, ids[0], 5},
                                             {core::MutationKind::kIncrement, ids[other], 5},
                                             {core::MutationKind::kDecrement, ids[0], 2}};
  const core::IdempotencyKey key{"spanning." + run, "fp-spanning"};
  for (auto* apply : {+[](testing::LoopStore&st, std::span<const core::Mutation> m,
                          const core::IdempotencyKey*k) { return st.Apply(m, k); },
                      +[](testing::LoopStore&st, std::span<const core::Mutation> m,
                          const core::IdempotencyKey*k) { return st.values().Apply(m, k); }}) {
    auto r = apply(s, spanning, nullptr);
    EXPECT_EQ(r.status, core::ApplyResult::Status::kApplied);
    ASSERT_EQ(r.outcomes.size(), 3u);
    EXPECT_EQ(std::get<core::Applied>(r.outcomes[0]).id, ids[0]);
    EXPECT_EQ(std::get<core::Applied>(r.outcomes[1]).id, ids[other]);
    EXPECT_EQ(value_of(r, 2) - value_of(r, 0), -2);
  }
  EXPECT_EQ(s.values().Get(ids[0])->value, 1 + 2 * 3);
  EXPECT_EQ(s.values().Get(ids[other])->value, first + 2 * 5);
  EXPECT_EQ(outbox_events() - events_before, 66);
  // With an Idempotency-Key: each group's part keeps its record; a repeat replays them all.
  auto keyed = s.Apply(spanning, &key);
  EXPECT_EQ(keyed.status, core::ApplyResult::Status::kApplied);
  EXPECT_EQ(value_of(keyed, 1), first + 3 * 5);
  auto again = s.Apply(spanning, &key);
  EXPECT_EQ(again.status, core::ApplyResult::Status::kReplayed);
  EXPECT_EQ(value_of(again, 1), first + 3 * 5);
  EXPECT_EQ(s.values().Apply(spanning, &key).status, core::ApplyResult::Status::kReplayed);
  // The key with another request of the same groups: refused whole, nothing changed. With a
  // request touching another group too, that group's part is carried out and the answer says
  // so (core::PartlyApplied, key_reused), never a plain refusal.
  const std::vector<core::Mutation> other_request{{core::MutationKind::kIncrement, ids[0], 1},
                                                  {core::MutationKind::kIncrement, ids[other], 1}};
  const core::IdempotencyKey reused{key.key, "fp-other"};
  EXPECT_EQ(s.Apply(other_request, &reused).status, core::ApplyResult::Status::kKeyConflict);
  std::size_t third = other + 1;
  while (layout.GroupOf(ids[third]) == layout.GroupOf(ids[0]) ||
         layout.GroupOf(ids[third]) == layout.GroupOf(ids[other]))
    ++third;
  const std::vector<core::Mutation> wider{{core::MutationKind::kIncrement, ids[0], 1},
                                          {core::MutationKind::kIncrement, ids[third], 1}};
  try {
    s.Apply(wider, &reused);
    ADD_FAILURE() << "a request carried out in part was answered as whole";
  } catch (const core::PartlyApplied& e) {
    EXPECT_TRUE(e.key_reused);
    EXPECT_EQ(e.applied, (std::vector<std::size_t>{1}));
  }
  EXPECT_EQ(s.values().Get(ids[0])->value, 1 + 3 * 3);
  EXPECT_EQ(s.values().Get(ids[third])->value, static_cast<std::int64_t>(third) + 2);
  // Within one group, the blocking store's batch is one script as before.
  const std::vector<core::Mutation> together{{core::MutationKind::kIncrement, ids[0], 1},
                                             {core::MutationKind::kDecrement, ids[0], 3}};
  auto r = s.values().Apply(together, nullptr);
  EXPECT_EQ(std::get<core::Applied>(r.outcomes.at(1)).value, 1 + 3 * 3 + 1 - 3);
}

// A batch over three shards while one of their primaries is killed (SIGKILL): the parts on the
// live shards are carried out and the answer names them (core::PartlyApplied), never a plain
// success or a plain refusal; once the replica is promoted, the repeat with the same
// Idempotency-Key replays the parts carried out and applies the rest: every counter exact.
// Readiness (Ping) follows the shard: down until the replica is promoted.
TEST(RedisClusterStore, ABatchInterruptedByAKilledPrimaryIsAnsweredInPartAndARepeatCompletesIt) {
  RedisCluster cluster;
  ClusterConfig config = ParseClusterNodes(cluster.seeds());
  RedisClient client(config, {.pool_size = 1, .timeout = 500ms});
  testing::LoopStore s(client, KeyLayout::Cluster());
  const KeyLayout& layout = s.values().layout();
  // One counter on each primary, the first two twice in the batch.
  std::map<RedisServer*, std::string> on;
  for (int i = 0; on.size() < 3; ++i) {
    const std::string id = "part" + std::to_string(i);
    on.emplace(cluster.PrimaryOf(KeySlot(layout.Counter(id))), id);
  }
  std::vector<std::string> ids;
  for (const auto& [node, id] : on) {
    ids.push_back(id);
    ASSERT_TRUE(s.values().Create({id, "", std::nullopt, std::nullopt, {}, {}}, 9));
    const core::Mutation add{core::MutationKind::kIncrement, id, 1};  // the loop connected
    ASSERT_EQ(std::get<core::Applied>(s.Apply({&add, 1}, nullptr).outcomes.at(0)).value, 10);
  }
  const std::vector<core::Mutation> batch{{core::MutationKind::kIncrement, ids[0], 1},
                                          {core::MutationKind::kIncrement, ids[1], 2},
                                          {core::MutationKind::kIncrement, ids[2], 3},
                                          {core::MutationKind::kSet, ids[0], 100},
                                          {core::MutationKind::kDecrement, ids[1], 4}};
  RedisServer* victim = cluster.PrimaryOf(KeySlot(layout.Counter(ids[1])));
  RedisServer* replica = cluster.ReplicaOf(*victim);
  ASSERT_NE(replica, nullptr);
  ASSERT_TRUE(WaitUntil([&] {  // the replica has the counter before its primary dies
    RedisClient direct(replica->endpoint(), {.pool_size = 1});
    return direct.Pipeline({{"READONLY"}, {"EXISTS", layout.Counter(ids[1])}})[1].integer == 1;
  }));
  // The peers give up on the victim only when told below: until then the other shards keep
  // serving (once they mark it failed, the whole cluster answers CLUSTERDOWN until the
  // replica is promoted, a Redis Cluster's own rule), so the parts' fates are certain.
  const auto node_timeout = [&](const char* ms) {
    for (RedisServer* node : cluster.nodes())
      if (node != victim)
        ASSERT_EQ(testing::Run(node->endpoint(), {"CONFIG", "SET", "cluster-node-timeout", ms}).str,
                  "OK");
  };
  node_timeout("60000");
  EXPECT_TRUE(s.values().Ping());
  victim->process().Kill();  // SIGKILL

  const core::IdempotencyKey loop_key{"interrupted-loop", "fp-batch"};
  const core::IdempotencyKey blocking_key{"interrupted-blocking", "fp-batch"};
  const auto in_part = [&](auto apply) {
    try {
      apply();
      ADD_FAILURE() << "a batch carried out in part was answered as whole";
    } catch (const core::PartlyApplied& e) {
      EXPECT_FALSE(e.key_reused);
      EXPECT_EQ(e.applied, (std::vector<std::size_t>{0, 2, 3})) << e.what();  // ids[0], ids[2]
      EXPECT_NE(std::string(e.what()).find("Idempotency-Key"), std::string::npos);
    }
  };
  in_part([&] { s.Apply(batch, &loop_key); });
  in_part([&] { s.values().Apply(batch, &blocking_key); });
  EXPECT_FALSE(s.values().Ping());  // readiness: one shard down is enough
  node_timeout("1000");
  // Once the replica is promoted, the repeats complete the batches, each applying ids[1]'s part
  // once and replaying the others.
  core::ApplyResult done;
  ASSERT_TRUE(WaitUntil(
      [&] {
        try {
          done = s.Apply(batch, &loop_key);
          return true;
        } catch (const core::PartlyApplied&) {
          return false;
        }
      },
      30s));
  // Applied now, or replayed: an attempt during the failover may have been carried out on the
  // promoted replica with its answer lost (a failed part is all or nothing, not known which).
  EXPECT_NE(done.status, core::ApplyResult::Status::kKeyConflict);
  const auto value_of = [](const core::ApplyResult& r, std::size_t i) {
    return std::get<core::Applied>(r.outcomes.at(i)).value;
  };
  EXPECT_EQ(value_of(done, 0), 11);
  EXPECT_EQ(value_of(done, 1), 12);
  EXPECT_EQ(value_of(done, 2), 13);
  EXPECT_EQ(value_of(done, 3), 100);
  EXPECT_EQ(value_of(done, 4), 8);
  auto blocking = s.values().Apply(batch, &blocking_key);
  EXPECT_EQ(blocking.status, core::ApplyResult::Status::kApplied);
  EXPECT_EQ(value_of(blocking, 1), 10);  // ids[1] once more: 8 + 2
  EXPECT_EQ(value_of(blocking, 3), 100);
  EXPECT_EQ(s.Apply(batch, &loop_key).status, core::ApplyResult::Status::kReplayed);
  EXPECT_EQ(s.values().Get(ids[0])->value, 100);
  EXPECT_EQ(s.values().Get(ids[1])->value, 6);   // 10 + 2 - 4, twice
  EXPECT_EQ(s.values().Get(ids[2])->value, 16);  // its part once per key, at the kill
  EXPECT_EQ(cluster.PrimaryOf(KeySlot(layout.Counter(ids[1]))), replica);
  EXPECT_TRUE(s.values().Ping());
}

// One outbox stream per group, one leader per stream: every event relayed once, each counter's
// in the order it was applied.
TEST(RedisClusterOutbox, RelaysEveryGroupInOrderWithOneLeaderPerStream) {
  RedisCluster& cluster = SharedCluster();
  RedisClient client = ClientOf(cluster);
  testing::LoopStore s(client, KeyLayout::Cluster());
  const KeyLayout& layout = s.values().layout();
  const std::string run = std::to_string(std::random_device{}());
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back("relayed" + std::to_string(i) + "." + run);
    ASSERT_TRUE(s.values().Create({ids.back(), "", std::nullopt, std::nullopt, {}, {}}, 0));
  }
  const auto increment = [&](const std::string& id) {
    const core::Mutation add{core::MutationKind::kIncrement, id, 1};
    return std::get<core::Applied>(s.Apply({&add, 1}, nullptr).outcomes.at(0)).value;
  };
  for (int round = 0; round < 3; ++round)
    for (const auto& id : ids) increment(id);

  RedisGroupedOutbox a(client, "a", layout, 30s), b(client, "b", layout, 30s);
  std::map<std::string, std::vector<std::int64_t>> seen;  // values per counter, in order
  const auto drain = [&](RedisGroupedOutbox& outbox) {
    std::size_t n = 0;
    for (auto events = outbox.Pending(1000); !events.empty(); events = outbox.Pending(1000)) {
      for (const auto& e : events) seen[e.count_id].push_back(e.value);
      outbox.Acknowledge(events);
      n += events.size();
    }
    return n;
  };
  EXPECT_GE(a.Backlog(), 80u);  // created and incremented three times, each counter
  drain(a);
  // Idle: the lengths only, no lease taken or renewed, nothing read.
  const auto scripts = [&] {
    int n = 0;
    for (auto* node : cluster.nodes())
      n += InfoCount(*node, "commandstats", "cmdstat_evalsha:calls=") +
           InfoCount(*node, "commandstats", "cmdstat_xrange:calls=");
    return n;
  };
  const int before = scripts();
  EXPECT_TRUE(a.Pending(1000).empty());
  EXPECT_EQ(scripts(), before);
  for (const auto& id : ids) EXPECT_EQ(seen[id], (std::vector<std::int64_t>{0, 1, 2, 3})) << id;
  EXPECT_EQ(a.Backlog(), 0u);
  const std::size_t group = layout.GroupOf(ids[0]);
  EXPECT_FALSE(client.Command({"HGET", layout.Stream(group) + ":published", "last"}).IsNil());

  // `a` leads every stream: `b` relays nothing until `a` gives its leases up.
  increment(ids[0]);
  EXPECT_EQ(drain(b), 0u);
  EXPECT_EQ(drain(a), 1u);
  increment(ids[0]);
  a.Release();
  EXPECT_EQ(drain(b), 1u);
  EXPECT_EQ(seen[ids[0]], (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));
  b.Release();
}

// What the relay must do on an outbox that reads ahead (testing/relay_contract.hpp), on every
// group's stream at once.
TEST(RedisClusterOutbox, TheRelayReadsAheadKeepingOrderAcrossAFailedPublish) {
  RedisCluster& cluster = SharedCluster();
  RedisClient client = ClientOf(cluster);
  const KeyLayout layout = KeyLayout::Cluster();
  RedisCountValueStore values(client, core::Now, {}, layout);
  {  // what other tests of this binary left in the streams
    RedisGroupedOutbox drain(client, "drain", layout);
    for (auto events = drain.Pending(1000); !events.empty(); events = drain.Pending(1000))
      drain.Acknowledge(events);
    drain.Release();
  }
  RedisGroupedOutbox outbox(client, "relay", layout);
  count::testing::ExpectRelayReadsAheadInOrderAcrossAFailedPublish(
      outbox, values, "contract" + std::to_string(std::random_device{}()) + ".");
  outbox.Release();
}

// A relay thread per shard (wiring::KafkaRelay over GroupsByShard): while a primary is dead
// (its calls fail only after the client's timeout), the other shards' groups are relayed at
// once, and their writes' WRITE_ACK=kafka waits answered (ShardedEventAcks); one relay over
// every group would wait out the timeout on every poll. Once the replica
// is promoted, the dead shard's groups are relayed again.
TEST(RedisClusterOutbox, APrimaryThatIsDownDelaysOnlyItsOwnShardsRelaying) {
  RedisCluster cluster;
  constexpr auto kTimeout = 3s;
  RedisClient client(ParseClusterNodes(cluster.seeds()), {.pool_size = 1, .timeout = kTimeout});
  const KeyLayout layout = KeyLayout::Cluster();
  RedisCountValueStore values(client, core::Now, {}, layout);
  std::map<RedisServer*, std::string> on;  // a counter on each primary
  for (int i = 0; on.size() < 3; ++i) {
    const std::string id = "shard" + std::to_string(i);
    on.emplace(cluster.PrimaryOf(KeySlot(layout.Counter(id))), id);
  }
  for (const auto& [node, id] : on)
    ASSERT_TRUE(values.Create({id, "", std::nullopt, std::nullopt, {}, {}}, 0));

  const auto shards = GroupsByShard(client, layout);
  ASSERT_EQ(shards.size(), 3u);
  for (const auto& groups : shards) {
    EXPECT_EQ(groups.size(), 20u);
    for (std::size_t g : groups)  // each list: the groups of one primary
      EXPECT_EQ(cluster.PrimaryOf(KeySlot(layout.Stream(g))),
                cluster.PrimaryOf(KeySlot(layout.Stream(groups.front()))));
  }
  struct Recorder : core::EventPublisher {
    std::mutex mu;
    std::map<std::string, std::vector<std::int64_t>> values;  // per counter, in order
    void Publish(std::span<const core::Event> events) override {
      std::lock_guard lock(mu);
      for (const auto& e : events) values[e.count_id].push_back(e.value);
    }
    std::vector<std::int64_t> Of(const std::string& id) {
      std::lock_guard lock(mu);
      return values[id];
    }
  } bus;
  std::vector<std::unique_ptr<RedisGroupedOutbox>> outboxes;
  std::vector<std::unique_ptr<events::OutboxRelay>> relays;
  for (const auto& groups : shards) {
    outboxes.push_back(std::make_unique<RedisGroupedOutbox>(client, "relay", layout, 10s, groups));
    relays.push_back(std::make_unique<events::OutboxRelay>(
        *outboxes.back(), bus, events::RelayOptions{.retry_max = 200ms}));
    relays.back()->Start();
  }
  for (const auto& [node, id] : on)
    ASSERT_TRUE(WaitUntil([&] { return bus.Of(id) == std::vector<std::int64_t>{0}; })) << id;

  // As in the test above: the other nodes give up on the victim only when told, so their
  // shards keep serving until then.
  RedisServer* victim = on.begin()->first;
  const auto node_timeout = [&](const char* ms) {
    for (RedisServer* node : cluster.nodes())
      if (node != victim)
        ASSERT_EQ(testing::Run(node->endpoint(), {"CONFIG", "SET", "cluster-node-timeout", ms}).str,
                  "OK");
  };
  std::promise<bool> dead_acked, live_acked;  // WRITE_ACK=kafka's waits, one per shard too
  ShardedEventAcks acks(client, {.wait = 10s}, layout);
  node_timeout("60000");
  victim->process().Kill();  // SIGKILL
  {  // one relay over every group: each poll waits for the dead shard, then fails
    RedisGroupedOutbox every(client, "every", layout);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(every.Pending(1000), core::StoreUnavailable);
    EXPECT_GE(std::chrono::steady_clock::now() - start, kTimeout / 2);
  }
  // A write of the dead shard waits for Kafka (its group's record cannot be read).
  acks.Await(std::to_string(layout.GroupOf(on.begin()->second)) + "@e/1-0",
             [&](bool durable) { dead_acked.set_value(durable); });
  const auto start = std::chrono::steady_clock::now();
  std::string position;  // of a write on a live shard
  for (auto it = std::next(on.begin()); it != on.end(); ++it) {
    const core::Mutation add{core::MutationKind::kIncrement, it->second, 1};
    position = values.Apply({&add, 1}, nullptr).position;
  }
  acks.Await(position, [&](bool durable) { live_acked.set_value(durable); });
  for (auto it = std::next(on.begin()); it != on.end(); ++it)
    ASSERT_TRUE(WaitUntil([&] { return bus.Of(it->second).size() == 2; }, 10s)) << it->second;
  auto live = live_acked.get_future();
  ASSERT_EQ(live.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(live.get());
  EXPECT_LT(std::chrono::steady_clock::now() - start, kTimeout / 2)
      << "the other shards' events, or their writes' answers, waited for the dead one";

  node_timeout("1000");  // the victim's replica is promoted: its groups are relayed again
  const std::string& id = on.begin()->second;
  const core::Mutation add{core::MutationKind::kIncrement, id, 1};
  ASSERT_TRUE(WaitUntil(
      [&] {
        try {
          values.Apply({&add, 1}, nullptr);
          return true;
        } catch (const core::StoreUnavailable&) {
          return false;
        }
      },
      30s));
  // (>= 1: an attempt during the failover may have been applied with its answer lost)
  EXPECT_TRUE(WaitUntil([&] { return !bus.Of(id).empty() && bus.Of(id).back() >= 1; }, 30s))
      << "the promoted replica's groups";
  for (auto& relay : relays) relay->Stop(0ms);
}

// OUTBOX_MAX_BACKLOG holds for the whole cluster: each group's stream takes its share, the
// limit / G (here 7 / 3 = 2 events), and refuses writes once it holds it, the other groups' not.
TEST(RedisClusterOutbox, EachGroupHoldsItsShareOfTheBacklogLimit) {
  RedisCluster& cluster = SharedCluster();
  RedisClient client = ClientOf(cluster);
  const KeyLayout layout = KeyLayout::Cluster(3);
  RedisCountValueStore values(client, core::Now, {"test", 7}, layout);
  RedisGroupedOutbox outbox(client, "relay", layout);
  const auto drain = [&] {
    for (auto events = outbox.Pending(1000); !events.empty(); events = outbox.Pending(1000))
      outbox.Acknowledge(events);
  };
  const std::string run = std::to_string(std::random_device{}());
  std::vector<std::string> ids(layout.groups());  // one counter in each group
  for (int i = 0; std::ranges::any_of(ids, &std::string::empty); ++i) {
    std::string id = "share" + std::to_string(i) + "." + run;
    auto& slot = ids[layout.GroupOf(id)];
    if (slot.empty()) slot = std::move(id);
  }
  for (const auto& id : ids)
    ASSERT_TRUE(values.Create({id, "", std::nullopt, std::nullopt, {}, {}}, 0));
  drain();  // the creations, and what other tests left in these streams
  ASSERT_EQ(outbox.Backlog(), 0u);
  const auto increment = [&](const std::string& id) {
    const core::Mutation add{core::MutationKind::kIncrement, id, 1};
    return values.Apply({&add, 1}, nullptr);
  };
  for (const auto& id : ids) {
    increment(id);
    increment(id);
    EXPECT_THROW(increment(id), core::StoreUnavailable) << id;
    EXPECT_EQ(values.Get(id)->value, 2) << id;
  }
  EXPECT_EQ(outbox.Backlog(), 6u);  // within the limit: 3 groups of 2
  drain();
  EXPECT_NO_THROW(increment(ids[0]));  // room again once the relay published
  drain();
  outbox.Release();
}

// rebuild-values writes only into a value store that holds no counter (HoldsCounters): on a
// cluster that must ask every primary, not the one a SCAN without a key reaches. Each primary in
// turn holds the one counter.
TEST(RedisClusterStore, HoldsCountersAsksEveryPrimary) {
  RedisCluster& cluster = SharedCluster();
  RedisClient client = ClientOf(cluster);
  const KeyLayout layout = KeyLayout::Cluster();
  RedisCountValueStore values(client, core::Now, {}, layout);
  std::set<int> primaries;
  for (int g = 0; g < static_cast<int>(layout.groups()); ++g)
    primaries.insert(cluster.PrimaryOf(KeySlot(layout.Stream(g)))->port());
  ASSERT_EQ(primaries.size(), 3u);
  auto flush = [&] {
    for (int port : primaries)
      for (RedisServer* node : cluster.nodes())
        if (node->port() == port) testing::Run(node->endpoint(), {"FLUSHALL"});
  };
  for (int port : primaries) {
    flush();
    EXPECT_FALSE(values.HoldsCounters());
    // A counter on this primary only (and other keys elsewhere: not counters).
    std::string id;
    for (int n = 0; id.empty(); ++n) {
      const std::string candidate = "holds." + std::to_string(n);
      if (cluster.PrimaryOf(KeySlot(layout.Counter(candidate)))->port() == port) id = candidate;
    }
    ASSERT_TRUE(values.Create({id, "", std::nullopt, std::nullopt, {}, {}}, 1));
    EXPECT_TRUE(values.HoldsCounters()) << "a counter on the primary at port " << port;
  }
  flush();
}

// The key layout (docs/OPERATIONS.md, "The key layout of a Redis Cluster"): the first process
// stores its own in count-layout, a later one with another layout is told the stored one.
TEST(RedisClusterStore, TheFirstKeyLayoutIsStoredAndAnotherIsToldIt) {
  RedisClient client = ClientOf(SharedCluster());
  const std::string key(KeyLayout::kLayoutKey);
  client.Command({"DEL", key});
  EXPECT_EQ(StoredLayoutDiffers(client, KeyLayout::Cluster()), std::nullopt);
  EXPECT_EQ(client.Command({"GET", key}).str, "groups=60 sub-counters=6");
  EXPECT_EQ(StoredLayoutDiffers(client, KeyLayout::Cluster()), std::nullopt);
  EXPECT_EQ(StoredLayoutDiffers(client, KeyLayout::Cluster(30)), "groups=60 sub-counters=6");
  EXPECT_EQ(StoredLayoutDiffers(client, KeyLayout::Cluster(3)), "groups=60 sub-counters=6");
  EXPECT_EQ(client.Command({"GET", key}).str, "groups=60 sub-counters=6");
  EXPECT_EQ(KeyLayout::Cluster(3).Description(), "groups=3 sub-counters=3");
  client.Command({"DEL", key});
}

}  // namespace

// The counting rule on a Redis Cluster: the contract suite on the loop store with one tag
// group (every counter of the suite's batches in one slot, so every batch is one script).
struct RedisClusterValueBackend {
  RedisClient client = ClientOf(SharedCluster());
  testing::LoopBackedValues values{client, KeyLayout::Cluster(1)};
  core::CountValueStore& store() { return values; }
  std::size_t max_batch() const { return RedisCountValueStore::kMaxBatch; }
};

// The same suite with the 60 groups the services use: its batches span groups, so each is split
// per group and answered as one (group_parts.hpp), and must answer exactly as one script does.
struct RedisClusterSplitValueBackend {
  RedisClient client = ClientOf(SharedCluster());
  testing::LoopBackedValues values{client, KeyLayout::Cluster()};
  core::CountValueStore& store() { return values; }
  std::size_t max_batch() const { return RedisCountValueStore::kMaxBatch; }
};

}  // namespace count::redis

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(RedisCluster, CountValueStoreContract,
                               count::redis::RedisClusterValueBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(RedisClusterSplit, CountValueStoreContract,
                               count::redis::RedisClusterSplitValueBackend);
}  // namespace count::testing
