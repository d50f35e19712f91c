#include "redis/redis_outbox.hpp"

#include <gtest/gtest.h>

#include "redis/redis_count_value_store.hpp"
#include "redis/redis_test_servers.hpp"
#include "testing/outbox_contract.hpp"
#include "testing/relay_contract.hpp"

namespace count::redis {
namespace {

class RedisOutboxTest : public ::testing::Test {
 protected:
  void TearDown() override { outbox.Release(); }  // the next test's outbox leads at once

  // Publishes and forgets everything the stream holds (what earlier tests left).
  void Drain() {
    for (auto batch = outbox.Pending(1000); !batch.empty(); batch = outbox.Pending(1000))
      outbox.Acknowledge(batch);
    ASSERT_EQ(outbox.Backlog(), 0u);
  }
  // Creates the counter `id` (deleted first when an earlier run left it): one stream entry.
  void CreateAnew(const std::string& id) {
    store.Delete(id, false);
    core::CountInfo info;
    info.id = id;
    ASSERT_TRUE(store.Create(info, 0));
  }
  // The counters `prefix`1 … `prefix`n on an empty stream: one entry (one event) each.
  std::vector<std::string> CreateCounters(const std::string& prefix, int n) {
    std::vector<std::string> ids;
    for (int i = 1; i <= n; ++i) {
      ids.push_back(prefix + std::to_string(i));
      store.Delete(ids.back(), false);
    }
    Drain();
    for (const auto& id : ids) CreateAnew(id);
    return ids;
  }
  // The stream ids of the entries the stream holds, oldest first.
  std::vector<std::string> EntryIds() {
    std::vector<std::string> ids;
    for (const auto& entry :
         client.Command({"XRANGE", std::string(kEventStream), "-", "+"}).elements)
      ids.push_back(entry.elements.at(0).str);
    return ids;
  }

  RedisClient client{testing::SharedTopology().primary().endpoint()};
  RedisCountValueStore store{client};
  RedisEventOutbox outbox{client, "outbox-test"};
};

std::vector<std::string> CountIds(const std::vector<core::Event>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) ids.push_back(e.count_id);
  return ids;
}

// Acknowledge forgets what the last Pending returned (one XTRIM past its last stream id) and
// nothing written after it.
TEST_F(RedisOutboxTest, AcknowledgeForgetsOnlyWhatPendingReturned) {
  const std::vector<std::string> ids = {"outbox.1", "outbox.2", "outbox.3",
                                        "outbox.4", "outbox.5", "outbox.late"};
  for (const auto& id : ids) store.Delete(id, false);
  Drain();
  count::testing::ExpectAcknowledgeForgetsOnlyWhatPendingReturned(
      outbox, [&](const std::string& id) { CreateAnew(id); }, "outbox.");
  outbox.Acknowledge({});  // nothing read since: nothing to forget
  EXPECT_EQ(outbox.Backlog(), 0u);
}

TEST_F(RedisOutboxTest, EventsKeepTheTraceOfTheirMutation) {
  CreateAnew("outbox.traced");
  Drain();
  count::testing::ExpectEventsCarryTheirTrace(store, outbox, "outbox.traced");
}

// A script call's events share one stream entry, however many: the relay reads every event
// back, in order (an entry larger than a batch comes whole), and the backlog counts events,
// not entries.
TEST_F(RedisOutboxTest, ALargeBatchComesBackWholeAndInOrder) {
  CreateAnew("outbox.large");
  Drain();

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
}

// A backlog of large entries (one per script call of 1,000 operations): a read asks Redis for
// about a batch's worth of entries, not for `max` entries (XRANGE's COUNT counts entries), so
// a batch of 2,000 events never costs the transfer of the whole backlog; and the batches
// still follow one another exactly, every event once and in order.
TEST_F(RedisOutboxTest, AReadOverABacklogOfLargeEntriesSendsAboutOneBatch) {
  CreateAnew("outbox.backlog");
  Drain();
  constexpr int kEntries = 20;
  const std::vector<core::Mutation> mutations(
      RedisCountValueStore::kMaxBatch, {core::MutationKind::kIncrement, "outbox.backlog", 1});
  for (int i = 0; i < kEntries; ++i)
    ASSERT_EQ(store.Apply(mutations, nullptr).status, core::ApplyResult::Status::kApplied);
  ASSERT_EQ(client.Command({"XLEN", std::string(kEventStream)}).integer, kEntries);
  // Bytes Redis has sent, all clients together (this test's client is the only one busy).
  const auto sent = [&] {
    const std::string info = client.Command({"INFO", "stats"}).str;
    const auto at = info.find("total_net_output_bytes:");
    return std::stoll(info.substr(at + std::string_view("total_net_output_bytes:").size()));
  };
  auto before = sent();
  client.Command({"XRANGE", std::string(kEventStream), "-", "+", "COUNT", "1"});
  const auto entry = sent() - before;  // one entry, and one INFO reply

  std::vector<core::Event> events;
  const std::size_t max = 2 * RedisCountValueStore::kMaxBatch;
  for (int read = 0; read < kEntries; ++read) {
    before = sent();
    const auto batch = outbox.Pending(max);
    const auto bytes = sent() - before;
    if (batch.empty()) break;
    // The first read asks for a few entries (their size unknown: here all twenty), every
    // later one for a batch's worth and the entry it continues from (read again): three
    // here, where asking for `max` entries would send what is left of all twenty.
    if (read > 0) {
      EXPECT_LE(bytes, 4 * entry) << "read " << read;
    }
    EXPECT_LE(batch.size(), max);
    events.insert(events.end(), batch.begin(), batch.end());
    outbox.Acknowledge(batch);
  }
  ASSERT_EQ(events.size(), kEntries * RedisCountValueStore::kMaxBatch);
  for (std::size_t i = 0; i < events.size(); ++i)
    ASSERT_EQ(events[i].value, static_cast<std::int64_t>(i + 1)) << i;
  EXPECT_EQ(outbox.Backlog(), 0u);
}

// Reading ahead: each Pending continues after the last entry handed out, before anything is
// acknowledged; each Acknowledge trims the oldest batch handed out, and only it, and records
// how far the bus has acknowledged the outbox (WRITE_ACK=kafka) up to that batch.
TEST_F(RedisOutboxTest, ReadsAheadInOrderAndAcknowledgeTrimsExactlyTheOldestBatch) {
  ASSERT_TRUE(outbox.ReadsAhead());
  auto ids = CreateCounters("ahead.", 9);
  const auto entries = EntryIds();
  ASSERT_EQ(entries.size(), 9u);

  const auto a = outbox.Pending(3);
  const auto b = outbox.Pending(3);
  const auto c = outbox.Pending(3);
  EXPECT_EQ(CountIds(a), std::vector<std::string>(ids.begin(), ids.begin() + 3));
  EXPECT_EQ(CountIds(b), std::vector<std::string>(ids.begin() + 3, ids.begin() + 6));
  EXPECT_EQ(CountIds(c), std::vector<std::string>(ids.begin() + 6, ids.end()));
  EXPECT_TRUE(outbox.Pending(3).empty());  // everything is handed out
  CreateAnew("ahead.late");
  const auto d = outbox.Pending(3);  // what was written since: after c
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d.back().count_id, "ahead.late");
  const std::size_t total = 9 + d.size();
  EXPECT_EQ(outbox.Backlog(), total);

  const auto record = [&] {
    return client.Command({"HGET", std::string(kPublishedKey), "last"}).str;
  };
  outbox.Acknowledge(a);
  EXPECT_EQ(outbox.Backlog(), total - 3);
  EXPECT_EQ(EntryIds().front(), entries[3]);  // a's entries, and only they, are gone
  EXPECT_EQ(record(), entries[2]);
  outbox.Acknowledge(b);
  EXPECT_EQ(outbox.Backlog(), total - 6);
  EXPECT_EQ(EntryIds().front(), entries[6]);
  EXPECT_EQ(record(), entries[5]);
  outbox.Acknowledge(c);
  outbox.Acknowledge(d);
  EXPECT_EQ(outbox.Backlog(), 0u);
  EXPECT_TRUE(EntryIds().empty());
  outbox.Acknowledge({});  // nothing handed out: nothing to forget
}

// After a failed publish the relay rewinds: every batch not acknowledged comes again, in
// order, from the oldest.
TEST_F(RedisOutboxTest, RewindHandsOutEveryUnacknowledgedBatchAgain) {
  auto ids = CreateCounters("rewind.", 6);
  const auto a = outbox.Pending(2);
  const auto b = outbox.Pending(2);
  outbox.Acknowledge(a);
  const auto c = outbox.Pending(2);
  ASSERT_EQ(CountIds(c), std::vector<std::string>(ids.begin() + 4, ids.end()));
  outbox.Rewind();  // b and c were not acknowledged
  const auto again = outbox.Pending(10);
  EXPECT_EQ(CountIds(again), std::vector<std::string>(ids.begin() + 2, ids.end()));
  EXPECT_EQ(again.front().event_id, b.front().event_id);
  outbox.Acknowledge(again);
  outbox.Acknowledge(b);  // acknowledged after the rewind: nothing is left to forget
  EXPECT_EQ(outbox.Backlog(), 0u);
}

// A leader whose lease ran out while it had batches in flight: the next leader starts from the
// stream's start (the oldest unacknowledged event), and the old one gives its batches up
// without trimming anything.
TEST_F(RedisOutboxTest, ANewLeaderStartsFromTheStreamsStart) {
  RedisEventOutbox first(client, "outbox-first", std::chrono::milliseconds(300)),
      second(client, "outbox-second");
  auto ids = CreateCounters("leader.", 6);
  outbox.Release();  // the fixture's outbox drained the stream: first is to lead
  const auto a = first.Pending(2);
  const auto b = first.Pending(2);
  ASSERT_EQ(CountIds(b), std::vector<std::string>(ids.begin() + 2, ids.begin() + 4));
  EXPECT_TRUE(second.Pending(10).empty());  // first leads
  // first stalls (a slow publish) until its lease runs out.
  ASSERT_TRUE(testing::WaitUntil([&] {
    return client.Command({"EXISTS", std::string(kEventStream) + ":relay"}).integer == 0;
  }));
  const auto taken = second.Pending(10);
  EXPECT_EQ(CountIds(taken), ids);        // from the start, a and b included
  EXPECT_TRUE(first.Pending(2).empty());  // first finds it lost the lease
  first.Acknowledge(a);                   // its batches are given up: nothing is trimmed
  EXPECT_EQ(first.Backlog(), 6u);
  second.Acknowledge(taken);
  EXPECT_EQ(second.Backlog(), 0u);
  second.Release();
  // Leading again, first reads from the start too (here: what was written since).
  CreateAnew("leader.after");
  const auto again = first.Pending(10);
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.back().count_id, "leader.after");
  first.Acknowledge(again);
  EXPECT_EQ(first.Backlog(), 0u);
  first.Release();
}

// Redis wiped while batches were in flight, and the new stream's ids not above the old ones
// (a stream id is only unique within its stream): reading on from the last id handed out
// would skip the new stream's first entries, and trimming after them would lose them. The
// outbox reads nothing more until the batches in flight are done, then the new stream from
// its start.
TEST_F(RedisOutboxTest, AStreamReplacedUnderTheBatchesInFlightIsReadFromItsStart) {
  CreateCounters("wiped.", 3);
  const auto a = outbox.Pending(2);
  ASSERT_EQ(a.size(), 2u);
  client.Command({"FLUSHALL"});
  // The rebuilt store's first event, at a stream id below every id read before.
  const std::string event = core::NewEventId();
  std::string packed = event;  // prelude.lua's emit: the parts, separated by byte 31
  for (const char* part : {"count_created", "wiped.new", "0", "0", "1", "x", "", ""})
    packed += std::string("\x1f") + part;
  ASSERT_EQ(client.Command({"XADD", std::string(kEventStream), "1-1", "e", packed}).str, "1-1");
  client.Command({"SET", std::string(kEventStream) + ":size", "1"});
  CreateAnew("wiped.after");  // its entry's id is above a's

  EXPECT_TRUE(outbox.Pending(2).empty());  // not after a's last id: that stream is gone
  outbox.Acknowledge(a);                   // a's entries are not in this stream: none trimmed
  EXPECT_EQ(outbox.Backlog(), 2u);
  const auto fresh = outbox.Pending(2);
  ASSERT_EQ(CountIds(fresh), (std::vector<std::string>{"wiped.new", "wiped.after"}));
  EXPECT_EQ(fresh[0].event_id, event);
  outbox.Acknowledge(fresh);
  EXPECT_EQ(outbox.Backlog(), 0u);
}

// An entry of a later version, with parts after the ones this version knows (a rolling
// upgrade): read, the unknown parts ignored.
TEST_F(RedisOutboxTest, PartsAfterTheKnownOnesAreIgnored) {
  Drain();
  const std::string event = core::NewEventId();
  std::string packed = event;  // prelude.lua's emit: the parts, separated by byte 31
  for (const char* part :
       {"count_updated", "later.parts", "1", "1", "1", "x", "", "", "2", "a later version's"})
    packed += std::string("\x1f") + part;
  client.Command({"XADD", std::string(kEventStream), "*", "e", packed});
  client.Command({"INCRBY", std::string(kEventStream) + ":size", "1"});
  const auto read = outbox.Pending(10);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].event_id, event);
  EXPECT_EQ(read[0].count_id, "later.parts");
  EXPECT_EQ(read[0].sub_counter, 2);
  outbox.Acknowledge(read);
  EXPECT_EQ(outbox.Backlog(), 0u);
}

// The relay on the Redis stream: it reads ahead, and a failed publish loses and reorders
// nothing.
TEST_F(RedisOutboxTest, TheRelayReadsAheadKeepingOrderAcrossAFailedPublish) {
  for (const char* id : {"relay.p", "relay.q", "relay.r"}) store.Delete(id, false);
  Drain();
  count::testing::ExpectRelayReadsAheadInOrderAcrossAFailedPublish(outbox, store, "relay.");
}

}  // namespace
}  // namespace count::redis
