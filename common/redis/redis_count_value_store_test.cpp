#include "redis/redis_count_value_store.hpp"
#include "redis/redis_outbox.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <set>
#include <thread>

#include "redis/redis_test_servers.hpp"
#include "testing/count_value_store_contract.hpp"

namespace count::redis {
namespace {

using namespace std::chrono_literals;
using core::Applied;
using core::ApplyResult;
using core::CountInfo;
using core::Mutation;
using core::MutationError;
using core::MutationKind;
using testing::SharedTopology;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

core::Timestamp At(std::int64_t ms) { return core::Timestamp(std::chrono::milliseconds(ms)); }

CountInfo Info(std::string id, std::optional<std::int64_t> min = std::nullopt,
               std::optional<std::int64_t> max = std::nullopt) {
  CountInfo info;
  info.id = std::move(id);
  info.min_value = min;
  info.max_value = max;
  return info;
}

class RedisCountValueStoreTest : public ::testing::Test {
 protected:
  RedisCountValueStoreTest()
      : client_(SharedTopology().primary().endpoint()),
        store_(client_, [this] { return At(now_ms_.load()); }) {}

  // An id of this test only, removed first so a re-run starts clean.
  std::string Id(const std::string& suffix = "c") {
    std::string id =
        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "." + suffix;
    store_.Delete(id, false);
    return id;
  }

  std::string Create(const std::string& suffix, std::int64_t value,
                     std::optional<std::int64_t> min = std::nullopt,
                     std::optional<std::int64_t> max = std::nullopt) {
    std::string id = Id(suffix);
    EXPECT_TRUE(store_.Create(Info(id, min, max), value));
    return id;
  }

  ApplyResult Apply(std::vector<Mutation> mutations, const core::IdempotencyKey* key = nullptr) {
    return store_.Apply(mutations, key);
  }

  // The one outcome of a single mutation.
  core::MutationOutcome One(MutationKind kind, const std::string& id, std::int64_t operand) {
    ApplyResult r = Apply({Mutation{kind, id, operand}});
    EXPECT_EQ(r.outcomes.size(), 1u);
    return r.outcomes.at(0);
  }

  std::int64_t Value(const std::string& id) { return store_.Get(id).value().value; }

  std::atomic<std::int64_t> now_ms_{1'700'000'000'000};
  RedisClient client_;
  RedisCountValueStore store_;
};

Applied Ok(const core::MutationOutcome& outcome) {
  EXPECT_TRUE(std::holds_alternative<Applied>(outcome));
  return std::holds_alternative<Applied>(outcome) ? std::get<Applied>(outcome) : Applied{};
}

MutationError Refused(const core::MutationOutcome& outcome) {
  EXPECT_TRUE(std::holds_alternative<MutationError>(outcome));
  return std::holds_alternative<MutationError>(outcome) ? std::get<MutationError>(outcome)
                                                        : MutationError::kNotFound;
}

TEST_F(RedisCountValueStoreTest, CreateWithoutTimestampsUsesTheClock) {
  const std::string id = Create("c", 0);
  auto record = store_.Get(id);
  EXPECT_EQ(record->created_at, At(now_ms_));
  EXPECT_EQ(record->updated_at, At(now_ms_));
  EXPECT_FALSE(record->min_value);
  EXPECT_FALSE(record->max_value);
}

TEST_F(RedisCountValueStoreTest, MoreThanTheLargestBatchIsRefusedUnsent) {
  const std::string id = Create("c", 0);
  const std::vector<Mutation> batch(RedisCountValueStore::kMaxBatch + 1,
                                    Mutation{MutationKind::kIncrement, id, 2});
  EXPECT_THROW(Apply(batch), std::invalid_argument);
  EXPECT_EQ(Value(id), 0);
}

TEST_F(RedisCountValueStoreTest, IdempotencyRecordExpiresAfterADay) {
  const std::string id = Create("c", 100);
  const std::string idem = "test:" + id;
  client_.Command({"DEL", "idem:" + idem});
  const core::IdempotencyKey key{idem, "POST /counts:batch body-1"};
  Ok(Apply({{MutationKind::kIncrement, id, 5}}, &key).outcomes[0]);
  const std::int64_t ttl = client_.Command({"TTL", "idem:" + idem}).integer;
  EXPECT_GT(ttl, core::kIdempotencyTtlSeconds - 60);
  EXPECT_LE(ttl, core::kIdempotencyTtlSeconds);
}
TEST_F(RedisCountValueStoreTest, ScriptsSurviveAFlushedScriptCache) {
  const std::string id = Create("c", 1);
  EXPECT_EQ(Ok(One(MutationKind::kIncrement, id, 1)).value, 2);
  ASSERT_EQ(client_.Command({"SCRIPT", "FLUSH"}).str, "OK");
  EXPECT_EQ(Ok(One(MutationKind::kIncrement, id, 1)).value, 3);
}

TEST_F(RedisCountValueStoreTest, ReplicaSeesAWriteAfterReplication) {
  // WAIT counts the writes of its own connection, so write through a one-connection client.
  RedisClient writer_client(SharedTopology().primary().endpoint(), {.pool_size = 1});
  RedisCountValueStore writer(writer_client);
  RedisClient replica_client(SharedTopology().replica().endpoint());
  RedisCountValueStore replica(replica_client);
  const std::string id = Id();
  ASSERT_TRUE(writer.Create(Info(id), 0));
  EXPECT_EQ(Ok(writer.Apply(std::vector<Mutation>{{MutationKind::kIncrement, id, 7}}, nullptr)
                   .outcomes[0])
                .value,
            7);
  ASSERT_EQ(writer_client.Command({"WAIT", "1", "1000"}).integer, 1);
  auto record = replica.Get(id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->value, 7);

  // A replica refuses a write script up front.
  EXPECT_THROW(replica.Apply(std::vector<Mutation>{{MutationKind::kIncrement, id, 1}}, nullptr),
               core::StoreUnavailable);
}

TEST_F(RedisCountValueStoreTest, ConcurrentIncrementsThroughOneClient) {
  const std::string id = Create("c", 0);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      const Mutation increment{MutationKind::kIncrement, id, 1};
      for (int i = 0; i < 500; ++i) {
        ApplyResult r = store_.Apply({&increment, 1}, nullptr);
        if (!std::holds_alternative<Applied>(r.outcomes.at(0))) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Value(id), 8000);
}

// Group commit: concurrent requests share script calls, yet each keeps its own answer and
// idempotency record. Each request increments by 1 under its own key, so its answer is the
// value right after it; replaying a key answers exactly that again and changes nothing.
TEST_F(RedisCountValueStoreTest, GroupCommitKeepsEachRequestsAnswerAndRecord) {
  const std::string id = Create("c", 0);
  constexpr int kThreads = 16, kEach = 50;
  std::vector<std::vector<std::pair<std::string, std::int64_t>>> answers(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const Mutation increment{MutationKind::kIncrement, id, 1};
      for (int i = 0; i < kEach; ++i) {
        const core::IdempotencyKey key{id + ":" + std::to_string(t) + ":" + std::to_string(i),
                                       "fp"};
        ApplyResult r = store_.Apply({&increment, 1}, &key);
        answers[t].emplace_back(key.key, Ok(r.outcomes.at(0)).value);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Value(id), kThreads * kEach);
  std::set<std::int64_t> distinct;
  for (const auto& list : answers) {
    for (const auto& [key_name, value] : list) {
      distinct.insert(value);
      const core::IdempotencyKey key{key_name, "fp"};
      const Mutation increment{MutationKind::kIncrement, id, 1};
      ApplyResult again = store_.Apply({&increment, 1}, &key);
      EXPECT_EQ(again.status, ApplyResult::Status::kReplayed);
      EXPECT_EQ(Ok(again.outcomes.at(0)).value, value);
    }
  }
  EXPECT_EQ(distinct.size(), std::size_t(kThreads * kEach)) << "each request saw its own value";
  EXPECT_EQ(Value(id), kThreads * kEach);
}

TEST_F(RedisCountValueStoreTest, Ping) { EXPECT_TRUE(store_.Ping()); }

// Every change appends exactly one event to the outbox stream, in the same script, with
// exact deltas (a set's delta too, unless it leaves int64); the outbox hands them over.
TEST_F(RedisCountValueStoreTest, EveryChangeRecordsOneEventInTheOutbox) {
  const std::string id = Create("ev", kMin);
  Ok(One(MutationKind::kSet, id, kMax));  // delta leaves int64: none
  Ok(One(MutationKind::kSet, id, 10));    // delta 10 - kMax
  Ok(One(MutationKind::kIncrement, id, 5));
  Refused(One(MutationKind::kIncrement, id, kMax));  // refused: no event
  ASSERT_EQ(store_.UpdateInfo(Info(id, 0, 100)), core::CountValueStore::UpdateResult::kUpdated);
  ASSERT_TRUE(store_.Delete(id, /*purge_history=*/true));

  RedisEventOutbox outbox(client_, "test");
  std::vector<core::Event> mine;
  for (;;) {
    auto batch = outbox.Pending(1000);
    if (batch.empty()) break;
    for (auto& e : batch)
      if (e.count_id == id) mine.push_back(e);
    outbox.Acknowledge(batch);
  }
  ASSERT_EQ(mine.size(), 6u);
  EXPECT_EQ(mine[0].type, core::EventType::kCreated);
  EXPECT_EQ(mine[0].value, kMin);
  EXPECT_EQ(mine[0].delta, kMin);
  EXPECT_FALSE(mine[1].delta);
  EXPECT_EQ(mine[2].delta, 10 - kMax);
  EXPECT_EQ(mine[3].delta, 5);
  EXPECT_EQ(mine[3].value, 15);
  EXPECT_EQ(mine[4].type, core::EventType::kUpdated);
  EXPECT_EQ(mine[4].delta, 0);
  EXPECT_EQ(mine[5].type, core::EventType::kDeleted);
  EXPECT_TRUE(mine[5].purge_history);
  EXPECT_FALSE(mine[4].purge_history);
  EXPECT_EQ(mine[5].delta, -15);
  EXPECT_EQ(outbox.Backlog(), 0u);
  for (const auto& e : mine) EXPECT_EQ(e.event_id.size(), 32u);
}

// Only one relay leads at a time, so per-counter order survives several replicas.
TEST_F(RedisCountValueStoreTest, OneOutboxLeadsAtATime) {
  Create("lead", 1);
  client_.Command({"DEL", std::string(kEventStream) + ":relay"});  // an earlier test's lease
  RedisEventOutbox first(client_, "a", 2s), second(client_, "b", 2s);
  EXPECT_FALSE(first.Pending(10).empty());
  EXPECT_TRUE(second.Pending(10).empty());
}

// A bus outage long enough to fill the outbox refuses writes instead of losing events.
TEST_F(RedisCountValueStoreTest, FullOutboxRefusesWrites) {
  const std::string id = Create("full", 0);
  RedisCountValueStore bounded(client_, core::Now, OutboxOptions{"test", 1});
  EXPECT_THROW(bounded.Apply(std::vector<Mutation>{{MutationKind::kIncrement, id, 1}}, nullptr),
               core::StoreUnavailable);
  EXPECT_EQ(Value(id), 0);
}

TEST_F(RedisCountValueStoreTest, RestorePutsBackACounterWithoutAnEvent) {
  const std::string id = Id();
  auto info = Info(id, -5, 500);
  info.description = "rebuilt";
  info.created_at = At(1000);
  info.updated_at = At(2000);
  const auto before = client_.Command({"XLEN", std::string(kEventStream)}).integer;
  EXPECT_TRUE(store_.Restore(info, 42));
  EXPECT_FALSE(store_.Restore(info, 7)) << "an existing counter is left alone";
  EXPECT_EQ(client_.Command({"XLEN", std::string(kEventStream)}).integer, before);
  const auto record = store_.Get(id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->value, 42);
  EXPECT_EQ(record->description, "rebuilt");
  EXPECT_EQ(record->min_value, -5);
  EXPECT_EQ(record->max_value, 500);
  EXPECT_EQ(record->created_at, At(1000));
  EXPECT_TRUE(store_.HoldsCounters());
}

}  // namespace

// The counting rule, as every CountValueStore obeys it.
struct RedisValueBackend {
  RedisClient client{testing::SharedTopology().primary().endpoint()};
  RedisCountValueStore values{client};
  core::CountValueStore& store() { return values; }
  std::size_t max_batch() const { return RedisCountValueStore::kMaxBatch; }
};

}  // namespace count::redis

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, CountValueStoreContract, count::redis::RedisValueBackend);
}  // namespace count::testing
