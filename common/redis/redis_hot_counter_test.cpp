// Hot counters (docs/API.md, "Hot counters"): a sharded counter on a real 3-primary/3-replica
// Redis Cluster the fixtures start — increments spread over sub-counters on every primary, reads
// and answers carry the sum, `set` refused, idempotent retries replayed, events exact (the sum
// of their deltas is the value, and zero after the deletion); on one server the flag is kept
// and the counter stays whole.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/history.hpp"
#include "redis/cluster_slots.hpp"
#include "redis/key_layout.hpp"
#include "redis/redis_grouped_outbox.hpp"
#include "redis/redis_loop_testing.hpp"
#include "redis/redis_outbox.hpp"
#include "redis/redis_test_servers.hpp"

namespace count::redis {
namespace {

using namespace std::chrono_literals;
using testing::RedisCluster;
using testing::RedisServer;

core::CountInfo Sharded(std::string id) {
  core::CountInfo info{std::move(id), "hot", std::nullopt, std::nullopt, {}, {}};
  info.sharded = true;
  return info;
}

core::Mutation Add(const std::string& id, std::int64_t n) {
  return {n >= 0 ? core::MutationKind::kIncrement : core::MutationKind::kDecrement, id,
          n >= 0 ? n : -n};
}

std::int64_t ValueOf(const core::ApplyResult& r) {
  return std::get<core::Applied>(r.outcomes.at(0)).value;
}

TEST(KeyLayoutSubCounters, FallInGroupsSpreadOverTheShards) {
  const KeyLayout layout = KeyLayout::Cluster();
  ASSERT_EQ(layout.SubCounters(), KeyLayout::kSubCounters);
  EXPECT_EQ(KeyLayout::Single().SubCounters(), 0u);
  EXPECT_EQ(KeyLayout::Cluster(4).SubCounters(), 4u);
  for (const std::string id : {"page.views", "a", "hot-7"}) {
    const std::size_t g = layout.GroupOf(id);
    std::set<std::size_t> groups;
    std::map<int, int> per_range;  // redis-cli's three equal slot ranges, one per primary
    for (std::size_t i = 0; i < layout.SubCounters(); ++i) {
      const std::string sub = KeyLayout::SubCounterId(id, i);
      EXPECT_EQ(KeyLayout::BaseId(sub), id);
      EXPECT_EQ(layout.GroupOf(sub),
                (g + i * layout.groups() / layout.SubCounters()) % layout.groups());
      groups.insert(layout.GroupOf(sub));
      ++per_range[KeySlot(layout.Counter(sub)) * 3 / kClusterSlots];
      EXPECT_EQ(KeySlot(layout.Counter(sub)), KeySlot(layout.Stream(layout.GroupOf(sub))));
    }
    EXPECT_EQ(groups.size(), layout.SubCounters()) << id;
    EXPECT_EQ(per_range, (std::map<int, int>{{0, 2}, {1, 2}, {2, 2}})) << id;
  }
}

class HotCounterCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new RedisCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static RedisClient Client() {
    return RedisClient(ParseClusterNodes(cluster_->seeds()), {.pool_size = 2, .timeout = 2s});
  }
  static inline RedisCluster* cluster_ = nullptr;
};

TEST_F(HotCounterCluster, SpreadsIncrementsOverEveryPrimaryAndReadsTheSum) {
  RedisClient client = Client();
  testing::LoopStore s(client, KeyLayout::Cluster());
  const KeyLayout& layout = s.values().layout();
  const std::string id = "hot.spread" + std::to_string(std::random_device{}());
  ASSERT_TRUE(s.values().Create(Sharded(id), 10));
  EXPECT_FALSE(s.values().Create(Sharded(id), 10));  // exists: its sub-counters untouched

  // Concurrent writers, on the loop store (the services' path) and the blocking one.
  constexpr int kThreads = 4, kEach = 60;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const core::Mutation m = Add(id, i % 5 == 4 ? -2 : 3);
        const auto r = t % 2 ? s.Apply({&m, 1}, nullptr) : s.values().Apply({&m, 1}, nullptr);
        ASSERT_EQ(r.status, core::ApplyResult::Status::kApplied);
        ASSERT_EQ(std::get<core::Applied>(r.outcomes.at(0)).id, id);
      }
    });
  for (auto& w : writers) w.join();
  const std::int64_t expected = 10 + kThreads * (kEach / 5) * (4 * 3 - 2);
  EXPECT_EQ(s.values().Get(id)->value, expected);
  const auto read = s.Read<std::optional<core::CountRecord>>(
      [&](auto& store, auto done) { store.Get(id, done); });
  ASSERT_TRUE(read);
  EXPECT_EQ(read->value, expected);
  EXPECT_TRUE(read->sharded);
  const std::vector<std::string> ids{id, "absent.hot"};
  const auto many = s.Read<std::vector<std::optional<core::CountRecord>>>(
      [&](auto& store, auto done) { store.GetMany(ids, done); });
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(many[0]->value, expected);
  EXPECT_FALSE(many[1]);

  // The counter's own key kept its initial value; the increments are on every primary.
  EXPECT_EQ(client.Command({"HGET", layout.Counter(id), "v"}).str, "10");
  std::set<RedisServer*> primaries;
  std::int64_t spread = 0;
  for (std::size_t i = 0; i < layout.SubCounters(); ++i) {
    const std::string key = layout.Counter(KeyLayout::SubCounterId(id, i));
    const Reply v = testing::Run(cluster_->PrimaryOf(KeySlot(key))->endpoint(), {"HGET", key, "v"});
    ASSERT_FALSE(v.IsNil()) << key;
    if (v.str != "0") primaries.insert(cluster_->PrimaryOf(KeySlot(key)));
    spread += std::stoll(v.str);
  }
  EXPECT_EQ(spread, expected - 10);
  EXPECT_EQ(primaries.size(), 3u);

  // An answer carries the sum, not its sub-counter's value.
  const core::Mutation one = Add(id, 1);
  EXPECT_EQ(ValueOf(s.Apply({&one, 1}, nullptr)), expected + 1);
  EXPECT_EQ(ValueOf(s.values().Apply({&one, 1}, nullptr)), expected + 2);
}

TEST_F(HotCounterCluster, RefusesSetAndReplaysRetriesFromTheSameSubCounter) {
  RedisClient client = Client();
  testing::LoopStore s(client, KeyLayout::Cluster());
  const std::string id = "hot.rules" + std::to_string(std::random_device{}());
  ASSERT_TRUE(s.values().Create(Sharded(id), 0));
  const core::Mutation set{core::MutationKind::kSet, id, 5};
  for (const bool loop : {false, true}) {
    const auto r = loop ? s.Apply({&set, 1}, nullptr) : s.values().Apply({&set, 1}, nullptr);
    EXPECT_EQ(std::get<core::MutationError>(r.outcomes.at(0)), core::MutationError::kSharded);
  }
  EXPECT_EQ(s.values().Get(id)->value, 0);

  // A retry with the same Idempotency-Key, from another process that has not yet learnt the
  // counter is sharded, finds the first attempt's record: applied once.
  const core::Mutation add = Add(id, 7);
  const core::IdempotencyKey key{"retry-" + id, "fp"};
  EXPECT_EQ(s.Apply({&add, 1}, &key).status, core::ApplyResult::Status::kApplied);
  testing::LoopStore fresh(client, KeyLayout::Cluster());
  for (int i = 0; i < 3; ++i) {
    const auto r = i % 2 ? fresh.values().Apply({&add, 1}, &key) : fresh.Apply({&add, 1}, &key);
    EXPECT_EQ(r.status, core::ApplyResult::Status::kReplayed);
    EXPECT_EQ(ValueOf(r), 7);
  }
  const core::IdempotencyKey reused{"retry-" + id, "another request"};
  EXPECT_EQ(fresh.Apply({&add, 1}, &reused).status, core::ApplyResult::Status::kKeyConflict);
  EXPECT_EQ(fresh.values().Get(id)->value, 7);

  // A batch of the sharded counter and another counter: routed, split per group, answered as
  // one with the sum.
  const std::string other = "other." + id;
  ASSERT_TRUE(s.values().Create({other, "", std::nullopt, std::nullopt, {}, {}}, 0));
  const std::vector<core::Mutation> batch{Add(id, 3), Add(other, 1), Add(id, 2)};
  const core::IdempotencyKey batch_key{"batch-" + id, "fp"};
  for (const bool loop : {true, false}) {
    const auto r = loop ? s.Apply(batch, &batch_key) : s.values().Apply(batch, &batch_key);
    ASSERT_EQ(r.outcomes.size(), 3u);
    EXPECT_EQ(std::get<core::Applied>(r.outcomes[0]).id, id);
    EXPECT_EQ(std::get<core::Applied>(r.outcomes[2]).value, 12);
    EXPECT_EQ(std::get<core::Applied>(r.outcomes[1]).value, 1);
  }
  EXPECT_EQ(s.values().Get(id)->value, 12);

  // An unsharded counter beside it stays whole: one key, set allowed.
  const std::string whole = "cold." + id;
  ASSERT_TRUE(s.values().Create({whole, "", std::nullopt, std::nullopt, {}, {}}, 1));
  const core::Mutation set_whole{core::MutationKind::kSet, whole, 9};
  EXPECT_EQ(ValueOf(s.Apply({&set_whole, 1}, nullptr)), 9);
  EXPECT_FALSE(s.values().Get(whole)->sharded);
  EXPECT_TRUE(
      client.Command({"EXISTS", s.values().layout().Counter(KeyLayout::SubCounterId(whole, 0))})
          .integer == 0);
}

// count-analysis-service rebuild-values puts a sharded counter back sharded: its rebuilt value
// in its key, its sub-counters at 0.
TEST_F(HotCounterCluster, RestoresAShardedCounterSharded) {
  RedisClient client = Client();
  testing::LoopStore s(client, KeyLayout::Cluster());
  const std::string id = "hot.restored" + std::to_string(std::random_device{}());
  ASSERT_TRUE(s.values().Restore(Sharded(id), 40));
  EXPECT_FALSE(s.values().Restore(Sharded(id), 40));
  const core::Mutation add = Add(id, 2);
  EXPECT_EQ(ValueOf(s.Apply({&add, 1}, nullptr)), 42);
  const auto record = s.values().Get(id);
  EXPECT_TRUE(record->sharded);
  EXPECT_EQ(record->value, 42);
  EXPECT_EQ(client.Command({"HGET", s.values().KeyOf(id), "v"}).str, "40");
}

// The events of a sharded counter are its own (its id), each with its exact delta, so the
// history's sum of deltas is the value; the deleted event carries the whole last value.
TEST_F(HotCounterCluster, EventsAddUpToTheValueAndToZeroAfterTheDeletion) {
  RedisClient client = Client();
  testing::LoopStore s(client, KeyLayout::Cluster());
  const KeyLayout& layout = s.values().layout();
  const std::string id = "hot.events" + std::to_string(std::random_device{}());
  ASSERT_TRUE(s.values().Create(Sharded(id), 100));
  for (int i = 1; i <= 30; ++i) {
    const core::Mutation m = Add(id, i % 3 ? i : -i);
    s.Apply({&m, 1}, nullptr);
  }
  const std::int64_t value = s.values().Get(id)->value;
  ASSERT_TRUE(s.values().Delete(id, false));
  EXPECT_FALSE(s.values().Get(id));
  for (std::size_t i = 0; i < layout.SubCounters(); ++i)
    EXPECT_EQ(client.Command({"EXISTS", layout.Counter(KeyLayout::SubCounterId(id, i))}).integer,
              0);
  const core::Mutation late = Add(id, 1);
  EXPECT_EQ(std::get<core::MutationError>(s.Apply({&late, 1}, nullptr).outcomes.at(0)),
            core::MutationError::kNotFound);

  // Created again, not sharded: a store that knew it sharded finds the sub-counter gone,
  // forgets, and writes the counter's own key.
  ASSERT_TRUE(s.values().Create({id, "", std::nullopt, std::nullopt, {}, {}}, 0));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ValueOf(s.Apply({&late, 1}, nullptr)), 2 * i + 1);
    EXPECT_EQ(ValueOf(s.values().Apply({&late, 1}, nullptr)), 2 * i + 2);
  }
  EXPECT_EQ(client.Command({"HGET", layout.Counter(id), "v"}).str, "4");
  ASSERT_TRUE(s.values().Delete(id, false));

  RedisGroupedOutbox outbox(client, "hot-test", layout, 30s);
  // The groups' streams are read in turn, not in time order: the sums are checked at the end.
  std::int64_t sum = 0;
  std::multiset<std::int64_t> deleted;
  std::size_t events = 0;
  for (auto batch = outbox.Pending(1000); !batch.empty(); batch = outbox.Pending(1000)) {
    for (const auto& e : batch) {
      if (e.count_id != id) continue;
      ++events;
      ASSERT_TRUE(e.delta);
      sum += *e.delta;
      if (e.type == core::EventType::kDeleted) deleted.insert(e.value);
    }
    outbox.Acknowledge(batch);
  }
  outbox.Release();
  EXPECT_EQ(events, 32u + 6u);  // created, 30 changes, deleted; then again with 4 changes
  EXPECT_EQ(deleted, (std::multiset<std::int64_t>{value, 4}));
  EXPECT_EQ(sum, 0);
  EXPECT_EQ(value, 100 + 30 * 31 / 2 - 2 * (3 + 6 + 9 + 12 + 15 + 18 + 21 + 24 + 27 + 30));
}

// Each change's event names the sub-counter it changed and carries that sub-counter's value;
// the counter's own events (creation, description, deletion) name its key, -1.
// Folded by the history's rule (core::CounterValues), in the order the groups' streams are read,
// the last value recorded is the counter's.
TEST_F(HotCounterCluster, EventsNameTheirSubCounterAndFoldToTheValue) {
  RedisClient client = Client();
  testing::LoopStore s(client, KeyLayout::Cluster());
  const KeyLayout& layout = s.values().layout();
  const std::string id = "hot.parts" + std::to_string(std::random_device{}());
  ASSERT_TRUE(s.values().Create(Sharded(id), 100));
  for (int i = 1; i <= 24; ++i) {
    const core::Mutation m = Add(id, i % 4 ? i : -i);
    s.Apply({&m, 1}, nullptr);
    std::this_thread::sleep_for(2ms);  // the next sub-counter: one per millisecond
  }
  auto info = Sharded(id);
  info.description = "renamed";
  ASSERT_EQ(s.values().UpdateInfo(info), core::CountValueStore::UpdateResult::kUpdated);
  const std::int64_t value = s.values().Get(id)->value;

  RedisGroupedOutbox outbox(client, "hot-test", layout, 30s);
  std::vector<core::Event> events;
  for (auto batch = outbox.Pending(1000); !batch.empty(); batch = outbox.Pending(1000)) {
    for (const auto& e : batch)
      if (e.count_id == id) events.push_back(e);
    outbox.Acknowledge(batch);
  }
  outbox.Release();
  ASSERT_EQ(events.size(), 26u);
  std::set<int> parts;
  for (const auto& e : events) {
    ASSERT_TRUE(e.sub_counter) << e.event_id;
    parts.insert(*e.sub_counter);
    if (*e.sub_counter == core::Event::kOwnKey) {  // the creation and the description
      EXPECT_EQ(e.delta, e.type == core::EventType::kCreated ? 100 : 0);
      EXPECT_EQ(e.value, 100);
      continue;
    }
    ASSERT_LT(*e.sub_counter, static_cast<int>(layout.SubCounters()));
  }
  EXPECT_TRUE(parts.contains(core::Event::kOwnKey));
  EXPECT_GE(parts.size(), 3u) << "the writes reached too few sub-counters";
  // Each sub-counter's last event carries its value now.
  std::map<int, std::int64_t> last;
  for (const auto& e : events)
    if (e.sub_counter && *e.sub_counter >= 0) last[*e.sub_counter] = e.value;
  for (const auto& [i, v] : last)
    EXPECT_EQ(client.Command({"HGET", layout.Counter(KeyLayout::SubCounterId(id, i)), "v"}).str,
              std::to_string(v));

  std::vector<const core::Event*> folded;
  for (const auto& e : events) folded.push_back(&e);
  std::deque<core::Event> copies;
  core::CounterValues(folded, {}, copies);
  // The last one folded is the latest in time (a tie: the later recorded wins).
  EXPECT_EQ(folded.back()->value, value);
  for (const core::Event* e : folded) EXPECT_LE(e->timestamp, folded.back()->timestamp);
  // The deletion's event names the key too, and carries the last value.
  ASSERT_TRUE(s.values().Delete(id, false));
  RedisGroupedOutbox after(client, "hot-test", layout, 30s);
  std::vector<core::Event> deleted;
  for (auto batch = after.Pending(1000); !batch.empty(); batch = after.Pending(1000)) {
    for (const auto& e : batch)
      if (e.count_id == id) deleted.push_back(e);
    after.Acknowledge(batch);
  }
  after.Release();
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].type, core::EventType::kDeleted);
  EXPECT_EQ(deleted[0].sub_counter, core::Event::kOwnKey);
  EXPECT_EQ(deleted[0].value, value);
  EXPECT_EQ(deleted[0].delta, -value);
}

// On one server there is one shard: the flag is kept (and `set` refused, as on a cluster, so a
// counter's rules do not depend on the deployment), the counter is one key.
TEST(HotCounterOneServer, KeepsTheFlagAndTheCounterWhole) {
  testing::RedisTopology& topology = testing::SharedTopology();
  RedisClient client(topology.primary().endpoint(), {.pool_size = 1, .timeout = 2s});
  testing::LoopStore s(client);
  const std::string id = "hot.single" + std::to_string(std::random_device{}());
  ASSERT_TRUE(s.values().Create(Sharded(id), 1));
  const core::Mutation add = Add(id, 4);
  EXPECT_EQ(ValueOf(s.Apply({&add, 1}, nullptr)), 5);
  EXPECT_EQ(ValueOf(s.values().Apply({&add, 1}, nullptr)), 9);
  const core::Mutation set{core::MutationKind::kSet, id, 5};
  EXPECT_EQ(std::get<core::MutationError>(s.Apply({&set, 1}, nullptr).outcomes.at(0)),
            core::MutationError::kSharded);
  const auto record = s.values().Get(id);
  EXPECT_TRUE(record->sharded);
  EXPECT_EQ(record->value, 9);
  EXPECT_EQ(client.Command({"HGET", s.values().KeyOf(id), "v"}).str, "9");
  EXPECT_TRUE(s.values().Delete(id, false));
  // Its events carry the counter's value and name no part.
  RedisEventOutbox outbox(client, "hot-test");
  std::vector<std::int64_t> values;
  for (auto batch = outbox.Pending(1000); !batch.empty(); batch = outbox.Pending(1000)) {
    for (const auto& e : batch) {
      if (e.count_id != id) continue;
      EXPECT_FALSE(e.sub_counter) << e.event_id;
      values.push_back(e.value);
    }
    outbox.Acknowledge(batch);
  }
  outbox.Release();
  EXPECT_EQ(values, (std::vector<std::int64_t>{1, 5, 9, 9}));
}

}  // namespace
}  // namespace count::redis
