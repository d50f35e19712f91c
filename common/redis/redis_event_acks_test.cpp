// WRITE_ACK=kafka's record on real Redis: the apply script's outbox positions, the record the
// relay's Acknowledge writes, and RedisEventAcks answering the writes that wait on it.
#include "redis/redis_event_acks.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "redis/redis_count_value_store.hpp"
#include "redis/redis_outbox.hpp"
#include "redis/redis_test_servers.hpp"

namespace count::redis {
namespace {

using namespace std::chrono_literals;
using core::Mutation;
using core::MutationKind;

class RedisEventAcksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_.Command({"FLUSHALL"});
    Create("acks.a");
  }
  void Create(const std::string& id) {
    core::CountInfo info;
    info.id = id;
    ASSERT_TRUE(store_.Create(info, 0));
  }
  std::string Increment(const std::string& id, const core::IdempotencyKey* key = nullptr) {
    const Mutation m{MutationKind::kIncrement, id, 1};
    return store_.Apply({&m, 1}, key).position;
  }
  // What the relay does after the bus acknowledged a batch.
  void Relay() {
    for (auto batch = outbox_.Pending(1000); !batch.empty(); batch = outbox_.Pending(1000))
      outbox_.Acknowledge(batch);
  }
  std::future<bool> Await(RedisEventAcks& acks, const std::string& position) {
    auto answer = std::make_shared<std::promise<bool>>();
    acks.Await(position, [answer](bool durable) { answer->set_value(durable); });
    return answer->get_future();
  }

  RedisClient client_{testing::SharedTopology().primary().endpoint()};
  RedisCountValueStore store_{client_};
  RedisEventOutbox outbox_{client_, "acks-test"};
};

TEST(StreamIdTest, ParsesAndOrdersAsTheStreamDoes) {
  EXPECT_EQ(ParseStreamId("1700000000000-0"), (StreamId{1700000000000, 0}));
  EXPECT_LT(*ParseStreamId("5-9"), *ParseStreamId("5-10"));
  EXPECT_LT(*ParseStreamId("5-10"), *ParseStreamId("6-0"));
  for (const char* bad : {"", "5", "-1", "5-", "a-1", "5-1x", "5--1"})
    EXPECT_FALSE(ParseStreamId(bad)) << bad;
  const auto position = ParsePosition("e1/5-9");
  ASSERT_TRUE(position);
  EXPECT_EQ(position->epoch, "e1");
  EXPECT_EQ(position->id, (StreamId{5, 9}));
  for (const char* bad : {"", "5-9", "/5-9", "e1/", "e1/5"})
    EXPECT_FALSE(ParsePosition(bad)) << bad;
}

TEST_F(RedisEventAcksTest, ApplyReturnsItsEventsPositionAndAReplayTheFirstOne) {
  const auto first = ParsePosition(Increment("acks.a"));
  const auto second = ParsePosition(Increment("acks.a"));
  ASSERT_TRUE(first && second);
  EXPECT_LT(first->id, second->id);
  EXPECT_EQ(first->epoch, second->epoch);
  EXPECT_FALSE(first->epoch.empty());

  const core::IdempotencyKey key{"k:acks", "fingerprint"};
  const std::string keyed = Increment("acks.a", &key);
  EXPECT_EQ(Increment("acks.a", &key), keyed);  // replayed: the first call's position
  EXPECT_EQ(Increment("acks.missing"), "");     // refused: no event, nothing to wait for

  const std::vector<Mutation> batch = {{MutationKind::kIncrement, "acks.a", 1},
                                       {MutationKind::kIncrement, "acks.missing", 1},
                                       {MutationKind::kIncrement, "acks.a", 1}};
  const auto last = ParsePosition(store_.Apply(batch, nullptr).position);
  ASSERT_TRUE(last);
  Reply tail = client_.Command({"XREVRANGE", std::string(kEventStream), "+", "-", "COUNT", "1"});
  EXPECT_EQ(ParseStreamId(tail.elements.at(0).elements.at(0).str), last->id);  // the batch's last
  EXPECT_EQ(last->epoch, first->epoch);
}

TEST_F(RedisEventAcksTest, AnswersOnceTheRelayRecordedTheEventAndNotBefore) {
  RedisEventAcks acks(client_, {.wait = 10s});
  const std::string position = Increment("acks.a");
  auto answer = Await(acks, position);
  EXPECT_EQ(answer.wait_for(100ms), std::future_status::timeout);  // still in the outbox
  EXPECT_EQ(acks.Waiting(), 1u);
  Relay();
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(answer.get());
  Reply record = client_.Command({"HMGET", std::string(kPublishedKey), "epoch", "last"});
  EXPECT_EQ(record.elements.at(0).str + "/" + record.elements.at(1).str, position);

  // Already acknowledged: answered at the next read of the record.
  auto again = Await(acks, position);
  ASSERT_EQ(again.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(again.get());
}

// The relay reads ahead: the record vouches for the batch acknowledged, never for the one
// read after it and still on its way to the bus.
TEST_F(RedisEventAcksTest, ABatchReadAheadIsNotAcknowledgedBeforeItsTurn) {
  Relay();  // acks.a's creation
  RedisEventAcks acks(client_, {.wait = 10s});
  const std::string first = Increment("acks.a");
  const std::string second = Increment("acks.a");
  const auto a = outbox_.Pending(1);
  const auto b = outbox_.Pending(1);  // read ahead: the second increment
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  auto first_answer = Await(acks, first);
  auto second_answer = Await(acks, second);
  outbox_.Acknowledge(a);
  ASSERT_EQ(first_answer.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(first_answer.get());
  EXPECT_EQ(second_answer.wait_for(100ms), std::future_status::timeout);
  outbox_.Acknowledge(b);
  ASSERT_EQ(second_answer.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(second_answer.get());
}

// A new store: the record of the creations' batch comes before any write gave the stream its
// epoch; it must not turn the first write away.
TEST_F(RedisEventAcksTest, ARecordWrittenBeforeTheFirstWriteSaysNothingYet) {
  Relay();  // acks.a's creation: a record without an epoch
  RedisEventAcks acks(client_, {.wait = 10s});
  auto answer = Await(acks, Increment("acks.a"));
  EXPECT_EQ(answer.wait_for(100ms), std::future_status::timeout);
  Relay();
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(answer.get());
}

TEST_F(RedisEventAcksTest, NotRelayedWithinTheWaitIsNotDurable) {
  RedisEventAcks acks(client_, {.wait = 300ms});
  Relay();
  const auto start = std::chrono::steady_clock::now();
  auto answer = Await(acks, Increment("acks.a"));
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(answer.get());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_EQ(acks.Waiting(), 0u);
}

// The wipe between the relay's read and its acknowledgement: the batch's events reached the
// bus, but the record must not vouch for the events that were lost with the old outbox.
TEST_F(RedisEventAcksTest, AWipedOutboxIsNeverReportedAsAcknowledged) {
  RedisEventAcks acks(client_, {.wait = 10s});
  Relay();
  Increment("acks.a");
  auto batch = outbox_.Pending(1000);
  ASSERT_EQ(batch.size(), 1u);
  const std::string lost = Increment("acks.a");  // after the read: never published
  client_.Command({"FLUSHALL"});
  Create("acks.a");  // the rebuilt store, writing again
  const std::string after = Increment("acks.a");
  outbox_.Acknowledge(batch);  // trims nothing of the new stream: the record is not written
  EXPECT_TRUE(client_.Command({"EXISTS", std::string(kPublishedKey)}).integer == 0);
  // The new stream's ids may repeat the old ones (same millisecond): the epochs differ.
  EXPECT_NE(ParsePosition(lost)->epoch, ParsePosition(after)->epoch);

  auto lost_answer = Await(acks, lost);
  Relay();  // the new stream: a new base
  auto after_answer = Await(acks, after);
  ASSERT_EQ(after_answer.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(after_answer.get());
  ASSERT_EQ(lost_answer.wait_for(5s), std::future_status::ready);  // below base: at once
  EXPECT_FALSE(lost_answer.get());
}

// Redis wiped while writes wait: their events are gone, never to reach the bus; they are
// answered at once, not after the whole wait (the clients move on to the rebuilt store).
TEST_F(RedisEventAcksTest, AWipeAnswersTheWaitingAtOnce) {
  RedisEventAcks acks(client_, {.wait = 10s});
  auto answer = Await(acks, Increment("acks.a"));
  EXPECT_EQ(answer.wait_for(50ms), std::future_status::timeout);
  client_.Command({"FLUSHALL"});
  ASSERT_EQ(answer.wait_for(2s), std::future_status::ready);
  EXPECT_FALSE(answer.get());
}

// A relay that stops gives its lease up: the next replica's relay leads at once, not after the
// lease ran out (the writes waiting with WRITE_ACK=kafka would time out meanwhile).
TEST_F(RedisEventAcksTest, AReleasedLeaseIsTakenAtOnce) {
  RedisEventOutbox other(client_, "acks-test-other");
  ASSERT_FALSE(outbox_.Pending(1000).empty());  // outbox_ leads (the counter's creation)
  EXPECT_TRUE(other.Pending(1000).empty());     // the other waits for the lease
  outbox_.Release();
  EXPECT_FALSE(other.Pending(1000).empty());
  other.Release();
}

TEST_F(RedisEventAcksTest, StoppingAnswersTheWaitingAsNotDurable) {
  std::future<bool> answer;
  {
    RedisEventAcks acks(client_, {.wait = 10s});
    answer = Await(acks, Increment("acks.a"));
  }
  ASSERT_EQ(answer.wait_for(1s), std::future_status::ready);
  EXPECT_FALSE(answer.get());
  RedisEventAcks acks(client_, {.wait = 10s});
  EXPECT_FALSE(Await(acks, "not-a-position").get());
}

}  // namespace
}  // namespace count::redis
