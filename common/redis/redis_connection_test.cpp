// Redis on an event loop (redis_connection.hpp, redis_loop_count_value_store.hpp), against the
// real redis-server and redis-sentinel processes the fixtures start.
#include "redis/redis_connection.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <optional>
#include <set>
#include <thread>

#include "core/ports.hpp"
#include "redis/redis_loop_count_value_store.hpp"
#include "redis/redis_loop_testing.hpp"
#include "redis/redis_test_servers.hpp"
#include "testing/count_value_store_contract.hpp"

namespace count::redis {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;
using testing::RedisTopology;
using testing::SharedTopology;
using testing::WaitUntil;

using testing::Answer;
using testing::Connected;
using testing::Loop;
using testing::LoopStore;

TEST(RedisConnection, PipelinesSendsFromOneLoopAndKeepsTheirOrder) {
  RedisClient client(SharedTopology().primary().endpoint());
  Connected c(client);
  c.Command({"DEL", "loop:order"});
  static constexpr std::size_t kSends = 500;
  auto replies = c.loop().Wait<std::vector<std::int64_t>>([&](auto answer) {
    auto got = std::make_shared<std::vector<std::int64_t>>();
    for (std::size_t i = 0; i < kSends; ++i)
      c.redis().Here().Send({{"INCR", "loop:order"}}, [got, answer](std::exception_ptr, Replies r) {
        got->push_back(r.empty() ? -1 : r.front().integer);
        if (got->size() == kSends) answer(*got);
      });
  });
  for (std::size_t i = 0; i < kSends; ++i) ASSERT_EQ(replies[i], std::int64_t(i) + 1);
  Answer many = c.Send({{"SET", "loop:a", "1"}, {"GET", "loop:a"}, {"HGETALL", "loop:none"}});
  ASSERT_FALSE(many.error);
  EXPECT_EQ(many.replies.at(1).str, "1");
  EXPECT_EQ(many.replies.at(2).type, Reply::Type::kArray);
}

TEST(RedisConnection, UnreachableServerFailsWithinTheTimeout) {
  RedisClient client(RedisEndpoint{"127.0.0.1", count::testing::FreePort(), "", "", 0},
                     {.pool_size = 1, .timeout = 200ms});
  Connected c(client);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(c.Command({"PING"}), core::StoreUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(RedisConnection, ACallWithoutAReplyFailsWithinTheTimeout) {
  RedisClient client(SharedTopology().primary().endpoint(), {.pool_size = 1, .timeout = 300ms});
  Connected c(client);
  ASSERT_EQ(c.Command({"PING"}).str, "PONG");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(c.Command({"BLPOP", "loop:never", "5"}), core::StoreUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(c.Command({"PING"}).str, "PONG");  // on a new connection
}

// Commands written behind one that closes the connection (CLIENT KILL of itself): the write
// may have been applied, so it fails and is not resent; the read is resent on a new connection.
TEST(RedisConnection, ResendsOnlyReadOnlyCommandsAfterTheConnectionBroke) {
  RedisClient client(SharedTopology().primary().endpoint(), {.pool_size = 1});
  Connected c(client);
  c.Command({"SET", "loop:resend", "5"});
  auto answers = c.loop().Wait<std::vector<Answer>>([&](auto answer) {
    auto got = std::make_shared<std::vector<Answer>>(3);
    auto left = std::make_shared<int>(3);
    const std::vector<std::string> commands[] = {
        {"CLIENT", "KILL", "SKIPME", "no", "TYPE", "normal"},
        {"INCR", "loop:resend"},
        {"GET", "loop:resend"}};
    for (int i = 0; i < 3; ++i)
      c.redis().Here().Send({commands[i]}, [=](std::exception_ptr e, Replies r) {
        (*got)[i] = {e, std::move(r)};
        if (--*left == 0) answer(*got);
      });
  });
  EXPECT_TRUE(answers[1].error) << "a write in flight on a broken connection must fail";
  ASSERT_FALSE(answers[2].error);
  EXPECT_EQ(answers[2].replies.at(0).str, "5");
  EXPECT_EQ(c.Command({"GET", "loop:resend"}).str, "5");
}

TEST(RedisConnection, AuthenticatesAndSelectsTheDatabase) {
  testing::ExpectAuthenticatesAndSelects([](RedisClient& client, std::vector<std::string> args) {
    return Connected(client).Command(std::move(args));
  });
}

// The async value store: the blocking store's rule on the loop's connection.
// Group commit on the loop: requests submitted while a script call is in flight go out
// together, yet each keeps its own answer and idempotency record.
TEST(RedisLoopStore, GroupCommitOnTheLoopKeepsEachRequestsAnswerAndRecord) {
  RedisClient client(SharedTopology().primary().endpoint());
  LoopStore s(client);
  const std::string id = "loopgc" + std::to_string(std::random_device{}());
  ASSERT_TRUE(s.values().Create({id, "", std::nullopt, std::nullopt, {}, {}}, 0));
  const auto calls_before = [&] {
    const auto info =
        testing::Run(SharedTopology().primary().endpoint(), {"INFO", "commandstats"}).str;
    const auto at = info.find("cmdstat_evalsha:calls=");
    return at == std::string::npos ? 0L : std::stol(info.substr(at + 22));
  };
  const long before = calls_before();
  constexpr int kRequests = 200;
  const core::Mutation increment{core::MutationKind::kIncrement, id, 1};
  std::vector<core::IdempotencyKey> keys;
  for (int i = 0; i < kRequests; ++i) keys.push_back({id + ":" + std::to_string(i), "fp"});
  auto values = s.connected().loop().Wait<std::vector<std::int64_t>>([&](auto answer) {
    auto got = std::make_shared<std::vector<std::int64_t>>(kRequests, -1);
    auto left = std::make_shared<int>(kRequests);
    for (int i = 0; i < kRequests; ++i)
      s.loop_values().Apply({&increment, 1}, &keys[i],
                            [=](std::exception_ptr e, core::ApplyResult r) {
                              if (!e) (*got)[i] = std::get<core::Applied>(r.outcomes.at(0)).value;
                              if (--*left == 0) answer(*got);
                            });
  });
  const long calls = calls_before() - before;
  EXPECT_LT(calls, kRequests) << "every request went out as its own script call";
  EXPECT_GE(calls, 1);
  EXPECT_EQ(std::set<std::int64_t>(values.begin(), values.end()).size(), std::size_t(kRequests))
      << "each request saw its own value";
  EXPECT_EQ(s.values().Get(id)->value, kRequests);
  for (int i = 0; i < kRequests; i += 37) {  // a replay answers exactly that again
    auto again = s.Apply({&increment, 1}, &keys[i]);
    EXPECT_EQ(again.status, core::ApplyResult::Status::kReplayed);
    EXPECT_EQ(std::get<core::Applied>(again.outcomes.at(0)).value, values[i]);
  }
  EXPECT_EQ(s.values().Get(id)->value, kRequests);
}

TEST(RedisLoopStore, ReadsOneAndMany) {
  RedisClient client(SharedTopology().primary().endpoint());
  LoopStore s(client);
  const std::string id = "loopread" + std::to_string(std::random_device{}());
  ASSERT_TRUE(s.values().Create({id, "d", std::nullopt, 9, {}, {}}, 7));
  using Record = std::optional<core::CountRecord>;
  auto one = s.Read<Record>([&](auto& store, auto done) { store.Get(id, done); });
  ASSERT_TRUE(one);
  EXPECT_EQ(one->value, 7);
  EXPECT_EQ(one->max_value, 9);
  const std::vector<std::string> ids{id, id + "-missing"};
  auto many =
      s.Read<std::vector<Record>>([&](auto& store, auto done) { store.GetMany(ids, done); });
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(many[0]->description, "d");
  EXPECT_FALSE(many[1]);
}

// A script the server lost (SCRIPT FLUSH, a restart) is sent again whole.
TEST(RedisLoopStore, SendsTheScriptAgainAfterTheServerLostIt) {
  RedisClient client(SharedTopology().primary().endpoint());
  LoopStore s(client);
  const std::string id = "loopflush" + std::to_string(std::random_device{}());
  ASSERT_TRUE(s.values().Create({id, "", std::nullopt, std::nullopt, {}, {}}, 0));
  testing::Run(SharedTopology().primary().endpoint(), {"SCRIPT", "FLUSH"});
  const core::Mutation increment{core::MutationKind::kIncrement, id, 3};
  auto r = s.Apply({&increment, 1}, nullptr);
  EXPECT_EQ(std::get<core::Applied>(r.outcomes.at(0)).value, 3);
}

// A graceful failover demotes the old primary without closing our connection: the next
// write gets READONLY, and the loop's connection re-resolves and retries it on the new one.
TEST(RedisLoopSentinel, RetriesAWriteRefusedAsReadonlyOnTheNewPrimary) {
  RedisTopology topology;
  const auto primary = topology.primary().endpoint();
  const auto replica = topology.replica().endpoint();
  RedisClient client(topology.sentinel_config(), {.pool_size = 1});
  LoopStore s(client);
  const std::string id = "loopgraceful";
  ASSERT_TRUE(s.values().Create({id, "", std::nullopt, std::nullopt, {}, {}}, 1));
  const core::Mutation increment{core::MutationKind::kIncrement, id, 1};
  ASSERT_EQ(std::get<core::Applied>(s.Apply({&increment, 1}, nullptr).outcomes.at(0)).value, 2);
  ASSERT_EQ(client.Command({"WAIT", "1", "1000"}).integer, 1);

  ASSERT_TRUE(topology.FailOverGracefully());

  auto r = s.Apply({&increment, 1}, nullptr);
  ASSERT_TRUE(std::holds_alternative<core::Applied>(r.outcomes.at(0)));
  EXPECT_EQ(std::get<core::Applied>(r.outcomes[0]).value, 3);
  EXPECT_EQ(testing::Run(replica, {"HGET", "count:{loopgraceful}", "v"}).str, "3");
  EXPECT_NE(testing::Run(primary, {"INFO", "errorstats"}).str.find("errorstat_READONLY:count=1"),
            std::string::npos)
      << "the first attempt was refused by the old primary";
}

// Kills the primary; the sentinel promotes the replica and the loop's connection resumes
// writing there without help.
TEST(RedisLoopSentinel, FollowsAFailover) {
  RedisTopology topology;
  RedisClient client(topology.sentinel_config(), {.pool_size = 1, .timeout = 1s});
  LoopStore s(client);
  const std::string id = "loopfailover";
  ASSERT_TRUE(s.values().Create({id, "", std::nullopt, std::nullopt, {}, {}}, 41));
  ASSERT_GE(client.Command({"WAIT", "1", "1000"}).integer, 0);
  ASSERT_TRUE(WaitUntil([&] {
    return testing::Run(topology.replica().endpoint(), {"HGET", "count:{loopfailover}", "v"}).str ==
           "41";
  }));
  const core::Mutation increment{core::MutationKind::kIncrement, id, 1};
  ASSERT_EQ(std::get<core::Applied>(s.Apply({&increment, 1}, nullptr).outcomes.at(0)).value, 42);

  const auto start = std::chrono::steady_clock::now();
  topology.primary().process().Kill();
  bool applied = false;
  while (!applied && std::chrono::steady_clock::now() - start < 15s) {
    try {
      applied = s.Apply({&increment, 1}, nullptr).status == core::ApplyResult::Status::kApplied;
    } catch (const core::StoreUnavailable&) {
      // the primary is gone until the sentinel promotes the replica
    }
  }
  ASSERT_TRUE(applied) << "no write succeeded within 15 s of the failover";
  EXPECT_EQ(testing::Run(topology.replica().endpoint(), {"HGET", "count:{loopfailover}", "v"}).str,
            "43");
}

}  // namespace

// The counting rule, as the loop store obeys it (testing::LoopBackedValues).
struct RedisLoopValueBackend {
  RedisClient client{testing::SharedTopology().primary().endpoint()};
  testing::LoopBackedValues values{client};
  core::CountValueStore& store() { return values; }
  std::size_t max_batch() const { return RedisCountValueStore::kMaxBatch; }
};

}  // namespace count::redis

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(RedisLoop, CountValueStoreContract,
                               count::redis::RedisLoopValueBackend);
}  // namespace count::testing
