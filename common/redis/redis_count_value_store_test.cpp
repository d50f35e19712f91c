#include "redis/redis_count_value_store.hpp"
#include "redis/redis_outbox.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <thread>

#include "redis/redis_test_servers.hpp"

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
    store_.Delete(id);
    return id;
  }

  std::string Create(const std::string& suffix, std::int64_t value,
                     std::optional<std::int64_t> min = std::nullopt,
                     std::optional<std::int64_t> max = std::nullopt) {
    std::string id = Id(suffix);
    EXPECT_TRUE(store_.Create(Info(id, min, max), value));
    return id;
  }

  ApplyResult Apply(std::vector<Mutation> mutations, const core::IdempotencyKey* key = nullptr,
                    bool auto_create = false) {
    return store_.Apply(mutations, key, auto_create);
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

TEST_F(RedisCountValueStoreTest, CreateGetDelete) {
  const std::string id = Id();
  CountInfo info = Info(id, -5, 100);
  info.description = "visits";
  info.created_at = At(1000);
  info.updated_at = At(2000);
  ASSERT_TRUE(store_.Create(info, 7));
  EXPECT_FALSE(store_.Create(info, 8)) << "an existing id is not created again";

  auto record = store_.Get(id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->id, id);
  EXPECT_EQ(record->value, 7);
  EXPECT_EQ(record->description, "visits");
  EXPECT_EQ(record->min_value, -5);
  EXPECT_EQ(record->max_value, 100);
  EXPECT_EQ(record->created_at, At(1000));
  EXPECT_EQ(record->updated_at, At(2000));

  EXPECT_TRUE(store_.Delete(id));
  EXPECT_FALSE(store_.Get(id));
  EXPECT_FALSE(store_.Delete(id));
}

TEST_F(RedisCountValueStoreTest, CreateWithoutTimestampsUsesTheClock) {
  const std::string id = Create("c", 0);
  auto record = store_.Get(id);
  EXPECT_EQ(record->created_at, At(now_ms_));
  EXPECT_EQ(record->updated_at, At(now_ms_));
  EXPECT_FALSE(record->min_value);
  EXPECT_FALSE(record->max_value);
}

TEST_F(RedisCountValueStoreTest, IncrementDecrementSet) {
  const std::string id = Create("c", 10);
  now_ms_ = 5000;
  Applied inc = Ok(One(MutationKind::kIncrement, id, 5));
  EXPECT_EQ(inc.id, id);
  EXPECT_EQ(inc.value, 15);
  EXPECT_EQ(inc.delta, 5);
  EXPECT_EQ(inc.updated_at, At(5000));

  now_ms_ = 6000;
  Applied dec = Ok(One(MutationKind::kDecrement, id, 20));
  EXPECT_EQ(dec.value, -5);
  EXPECT_EQ(dec.delta, -20);
  EXPECT_EQ(dec.updated_at, At(6000));

  Applied set = Ok(One(MutationKind::kSet, id, 123456));
  EXPECT_EQ(set.value, 123456);
  EXPECT_EQ(set.delta, 123461);
  EXPECT_EQ(Value(id), 123456);
  EXPECT_EQ(store_.Get(id)->updated_at, At(6000));
}

TEST_F(RedisCountValueStoreTest, UnknownIdIsNotFoundUnlessAutoCreate) {
  const std::string id = Id();
  ApplyResult r = Apply({Mutation{MutationKind::kIncrement, id, 1}});
  EXPECT_EQ(Refused(r.outcomes[0]), MutationError::kNotFound);
  EXPECT_FALSE(r.created[0]);
  EXPECT_FALSE(store_.Get(id));

  r = Apply({Mutation{MutationKind::kIncrement, id, 3}}, nullptr, true);
  EXPECT_EQ(Ok(r.outcomes[0]).value, 3);
  EXPECT_TRUE(r.created[0]);
  auto record = store_.Get(id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->created_at, At(now_ms_));
  EXPECT_FALSE(record->min_value);

  r = Apply({Mutation{MutationKind::kIncrement, id, 3}}, nullptr, true);
  EXPECT_EQ(Ok(r.outcomes[0]).value, 6);
  EXPECT_FALSE(r.created[0]);
}

TEST_F(RedisCountValueStoreTest, OverflowIsRefusedAndChangesNothing) {
  const std::string high = Create("high", kMax - 1);
  EXPECT_EQ(Ok(One(MutationKind::kIncrement, high, 1)).value, kMax);
  EXPECT_EQ(Refused(One(MutationKind::kIncrement, high, 1)), MutationError::kOverflow);
  EXPECT_EQ(Refused(One(MutationKind::kIncrement, high, kMax)), MutationError::kOverflow);
  EXPECT_EQ(Value(high), kMax);

  const std::string low = Create("low", kMin + 1);
  EXPECT_EQ(Ok(One(MutationKind::kDecrement, low, 1)).value, kMin);
  EXPECT_EQ(Refused(One(MutationKind::kDecrement, low, 1)), MutationError::kOverflow);
  EXPECT_EQ(Value(low), kMin);
  EXPECT_EQ(Ok(One(MutationKind::kIncrement, low, kMax)).value, -1);
  EXPECT_EQ(Ok(One(MutationKind::kSet, low, kMin)).value, kMin);
}

TEST_F(RedisCountValueStoreTest, ValuesBeyondTwoToThe53StayExact) {
  const std::string id = Create("c", 9007199254740993);
  EXPECT_EQ(Value(id), 9007199254740993);
  EXPECT_EQ(Ok(One(MutationKind::kIncrement, id, 1)).value, 9007199254740994);
  EXPECT_EQ(Ok(One(MutationKind::kDecrement, id, 3)).value, 9007199254740991);
  EXPECT_EQ(Ok(One(MutationKind::kSet, id, kMax - 2)).value, kMax - 2);
  EXPECT_EQ(Ok(One(MutationKind::kIncrement, id, 1)).value, kMax - 1);
  EXPECT_EQ(Value(id), kMax - 1);
}

TEST_F(RedisCountValueStoreTest, BoundsAreInclusiveAndARefusalChangesNothing) {
  const std::string id = Create("c", 0, -10, 10);
  EXPECT_EQ(Ok(One(MutationKind::kIncrement, id, 10)).value, 10);
  EXPECT_EQ(Refused(One(MutationKind::kIncrement, id, 1)), MutationError::kAboveMax);
  EXPECT_EQ(Value(id), 10);
  EXPECT_EQ(Ok(One(MutationKind::kDecrement, id, 20)).value, -10);
  EXPECT_EQ(Refused(One(MutationKind::kDecrement, id, 1)), MutationError::kBelowMin);
  EXPECT_EQ(Value(id), -10);
  EXPECT_EQ(Refused(One(MutationKind::kSet, id, 11)), MutationError::kAboveMax);
  EXPECT_EQ(Refused(One(MutationKind::kSet, id, -11)), MutationError::kBelowMin);
  EXPECT_EQ(Refused(One(MutationKind::kSet, id, kMax)), MutationError::kAboveMax);
  EXPECT_EQ(Value(id), -10);
  EXPECT_EQ(Ok(One(MutationKind::kSet, id, 9)).value, 9);

  // Bounds that differ only beyond double precision are still compared exactly.
  const std::string big = Create("big", 9007199254740992, std::nullopt, 9007199254740993);
  EXPECT_EQ(Ok(One(MutationKind::kIncrement, big, 1)).value, 9007199254740993);
  EXPECT_EQ(Refused(One(MutationKind::kIncrement, big, 1)), MutationError::kAboveMax);
  EXPECT_EQ(Refused(One(MutationKind::kSet, big, 9007199254740994)), MutationError::kAboveMax);
  EXPECT_EQ(Value(big), 9007199254740993);
}

TEST_F(RedisCountValueStoreTest, OneBadOperationDoesNotFailTheOthers) {
  const std::string a = Create("a", 1);
  const std::string b = Create("b", 5, std::nullopt, 5);
  const std::string missing = Id("missing");
  ApplyResult r = Apply({{MutationKind::kIncrement, a, 1},
                         {MutationKind::kIncrement, b, 1},
                         {MutationKind::kSet, missing, 3},
                         {MutationKind::kIncrement, a, 10}});
  EXPECT_EQ(r.status, ApplyResult::Status::kApplied);
  ASSERT_EQ(r.outcomes.size(), 4u);
  EXPECT_EQ(Ok(r.outcomes[0]).value, 2);
  EXPECT_EQ(Refused(r.outcomes[1]), MutationError::kAboveMax);
  EXPECT_EQ(Refused(r.outcomes[2]), MutationError::kNotFound);
  EXPECT_EQ(Ok(r.outcomes[3]).value, 12);
  EXPECT_EQ(Value(a), 12);
  EXPECT_EQ(Value(b), 5);
}

TEST_F(RedisCountValueStoreTest, BatchOfAThousand) {
  const std::string id = Create("c", 0);
  std::vector<Mutation> batch(RedisCountValueStore::kMaxBatch,
                              Mutation{MutationKind::kIncrement, id, 2});
  ApplyResult r = Apply(batch);
  ASSERT_EQ(r.outcomes.size(), batch.size());
  EXPECT_EQ(Ok(r.outcomes.back()).value, 2000);
  batch.push_back(batch.back());
  EXPECT_THROW(Apply(batch), std::invalid_argument);
  EXPECT_EQ(Value(id), 2000);
}

TEST_F(RedisCountValueStoreTest, IdempotencyKeyReplaysAndRefusesAnotherRequest) {
  const std::string id = Create("c", 100, std::nullopt, 105);
  const std::string idem = "test:" + id;
  client_.Command({"DEL", "idem:" + idem});
  const core::IdempotencyKey key{idem, "POST /counts:batch body-1"};
  const std::vector<Mutation> request{{MutationKind::kIncrement, id, 5},
                                      {MutationKind::kIncrement, id, 1}};
  ApplyResult first = Apply(request, &key);
  EXPECT_EQ(first.status, ApplyResult::Status::kApplied);
  EXPECT_EQ(Ok(first.outcomes[0]).value, 105);
  EXPECT_EQ(Refused(first.outcomes[1]), MutationError::kAboveMax);

  now_ms_ += 1000;
  ApplyResult again = Apply(request, &key);
  EXPECT_EQ(again.status, ApplyResult::Status::kReplayed);
  ASSERT_EQ(again.outcomes.size(), 2u);
  const Applied replayed = Ok(again.outcomes[0]);
  EXPECT_EQ(replayed.value, 105);
  EXPECT_EQ(replayed.delta, 5);
  EXPECT_EQ(replayed.updated_at, Ok(first.outcomes[0]).updated_at);
  EXPECT_EQ(Refused(again.outcomes[1]), MutationError::kAboveMax);
  EXPECT_EQ(again.created, first.created);
  EXPECT_EQ(Value(id), 105);

  const core::IdempotencyKey other{idem, "POST /counts:batch body-2"};
  ApplyResult conflict = Apply({{MutationKind::kSet, id, 0}}, &other);
  EXPECT_EQ(conflict.status, ApplyResult::Status::kKeyConflict);
  EXPECT_TRUE(conflict.outcomes.empty());
  EXPECT_EQ(Value(id), 105);

  const std::int64_t ttl = client_.Command({"TTL", "idem:" + idem}).integer;
  EXPECT_GT(ttl, core::kIdempotencyTtlSeconds - 60);
  EXPECT_LE(ttl, core::kIdempotencyTtlSeconds);
}

TEST_F(RedisCountValueStoreTest, IdempotencyKeyIsNotRecordedWhenNothingApplied) {
  const std::string id = Create("c", 5, std::nullopt, 5);
  const std::string idem = "test:" + id;
  client_.Command({"DEL", "idem:" + idem});
  const core::IdempotencyKey key{idem, "fp"};
  EXPECT_EQ(Refused(Apply({{MutationKind::kIncrement, id, 1}}, &key).outcomes[0]),
            MutationError::kAboveMax);
  EXPECT_EQ(client_.Command({"EXISTS", "idem:" + idem}).integer, 0);
  // So a retry after the cause is fixed is applied, not replayed.
  EXPECT_EQ(Apply({{MutationKind::kDecrement, id, 1}}, &key).status, ApplyResult::Status::kApplied);
}

TEST_F(RedisCountValueStoreTest, UpdateInfo) {
  const std::string id = Create("c", 50);
  CountInfo info = Info(id, 60, 100);
  info.description = "new";
  EXPECT_EQ(store_.UpdateInfo(info), core::CountValueStore::UpdateResult::kValueOutsideBounds);
  info.min_value = -100;
  info.max_value = 49;
  EXPECT_EQ(store_.UpdateInfo(info), core::CountValueStore::UpdateResult::kValueOutsideBounds);
  EXPECT_EQ(store_.Get(id)->description, "");

  info.max_value = 50;
  now_ms_ = 9000;
  EXPECT_EQ(store_.UpdateInfo(info), core::CountValueStore::UpdateResult::kUpdated);
  auto record = store_.Get(id);
  EXPECT_EQ(record->description, "new");
  EXPECT_EQ(record->min_value, -100);
  EXPECT_EQ(record->max_value, 50);
  EXPECT_EQ(record->updated_at, At(9000));
  EXPECT_EQ(record->value, 50);
  EXPECT_EQ(Refused(One(MutationKind::kIncrement, id, 1)), MutationError::kAboveMax);

  info.min_value.reset();
  info.max_value.reset();
  EXPECT_EQ(store_.UpdateInfo(info), core::CountValueStore::UpdateResult::kUpdated);
  EXPECT_FALSE(store_.Get(id)->max_value);
  EXPECT_EQ(Ok(One(MutationKind::kIncrement, id, 1)).value, 51);

  info.id = Id("missing");
  EXPECT_EQ(store_.UpdateInfo(info), core::CountValueStore::UpdateResult::kNotFound);
  EXPECT_FALSE(store_.Get(info.id));
}

TEST_F(RedisCountValueStoreTest, GetManyKeepsOrderAndMarksMissing) {
  const std::string a = Create("a", 1);
  const std::string b = Create("b", 2);
  const std::vector<std::string> ids{b, Id("missing"), a};
  auto records = store_.GetMany(ids);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]->value, 2);
  EXPECT_FALSE(records[1]);
  EXPECT_EQ(records[2]->value, 1);
  EXPECT_TRUE(store_.GetMany({}).empty());
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
  EXPECT_EQ(
      Ok(writer.Apply(std::vector<Mutation>{{MutationKind::kIncrement, id, 7}}, nullptr, false)
             .outcomes[0])
          .value,
      7);
  ASSERT_EQ(writer_client.Command({"WAIT", "1", "1000"}).integer, 1);
  auto record = replica.Get(id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->value, 7);

  // A replica refuses a write script up front.
  EXPECT_THROW(
      replica.Apply(std::vector<Mutation>{{MutationKind::kIncrement, id, 1}}, nullptr, false),
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
        ApplyResult r = store_.Apply({&increment, 1}, nullptr, false);
        if (!std::holds_alternative<Applied>(r.outcomes.at(0))) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Value(id), 8000);
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
  ASSERT_TRUE(store_.Delete(id));

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
  EXPECT_EQ(mine[5].delta, -15);
  EXPECT_EQ(outbox.Backlog(), 0u);
  for (const auto& e : mine) EXPECT_EQ(e.event_id.size(), 32u);
}

// Only one relay leads at a time, so per-counter order survives several replicas.
TEST_F(RedisCountValueStoreTest, OneOutboxLeadsAtATime) {
  Create("lead", 1);
  RedisEventOutbox first(client_, "a", 2s), second(client_, "b", 2s);
  EXPECT_FALSE(first.Pending(10).empty());
  EXPECT_TRUE(second.Pending(10).empty());
}

// A bus outage long enough to fill the outbox refuses writes instead of losing events.
TEST_F(RedisCountValueStoreTest, FullOutboxRefusesWrites) {
  const std::string id = Create("full", 0);
  RedisCountValueStore bounded(client_, core::Now, OutboxOptions{"test", 1});
  EXPECT_THROW(
      bounded.Apply(std::vector<Mutation>{{MutationKind::kIncrement, id, 1}}, nullptr, false),
      core::StoreUnavailable);
  EXPECT_EQ(Value(id), 0);
}

}  // namespace
}  // namespace count::redis
