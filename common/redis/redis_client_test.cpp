#include "redis/redis_client.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <stdexcept>

#include "core/ports.hpp"
#include "redis/redis_count_value_store.hpp"
#include "redis/redis_test_servers.hpp"

namespace count::redis {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;
using testing::RedisTopology;
using testing::SharedTopology;
using testing::WaitUntil;

// --- URL parsing (unit) ---

TEST(ParseRedisUrl, ReadsEveryPart) {
  RedisEndpoint ep = ParseRedisUrl("redis://alice:s%40cret@cache.local:6380/3");
  EXPECT_EQ(ep.host, "cache.local");
  EXPECT_EQ(ep.port, 6380);
  EXPECT_EQ(ep.user, "alice");
  EXPECT_EQ(ep.password, "s@cret");
  EXPECT_EQ(ep.db, 3);
}

TEST(ParseRedisUrl, AppliesDefaults) {
  RedisEndpoint ep = ParseRedisUrl("redis://localhost");
  EXPECT_EQ(ep.host, "localhost");
  EXPECT_EQ(ep.port, 6379);
  EXPECT_TRUE(ep.user.empty());
  EXPECT_TRUE(ep.password.empty());
  EXPECT_EQ(ep.db, 0);
  EXPECT_EQ(ParseRedisUrl("redis://localhost/").db, 0);
}

TEST(ParseRedisUrl, PasswordWithoutUserAndIpv6) {
  RedisEndpoint ep = ParseRedisUrl("redis://:pw@[::1]:7000");
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, 7000);
  EXPECT_TRUE(ep.user.empty());
  EXPECT_EQ(ep.password, "pw");
}

TEST(ParseRedisUrl, RefusesMalformedUrls) {
  for (const char* url :
       {"", "localhost:6379", "http://localhost", "rediss://localhost", "redis://", "redis://:6379",
        "redis://host:0", "redis://host:70000", "redis://host:port", "redis://host/x",
        "redis://host/1/2", "redis://host/-1", "redis://host?db=1", "redis://host#x",
        "redis://user@host", "redis://user:@host"}) {
    EXPECT_THROW(ParseRedisUrl(url), std::invalid_argument) << url;
  }
}

TEST(ParseRedisUrl, ErrorDoesNotEchoThePassword) {
  try {
    ParseRedisUrl("redis://u:topsecret@host/abc");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos);
  }
}

TEST(ParseSentinelConfig, ReadsTheList) {
  SentinelConfig config = ParseSentinelConfig("s1:26380, s2 ,10.0.0.3:1", "count");
  ASSERT_EQ(config.sentinels.size(), 3u);
  EXPECT_EQ(config.sentinels[0], (std::pair<std::string, int>{"s1", 26380}));
  EXPECT_EQ(config.sentinels[1], (std::pair<std::string, int>{"s2", 26379}));
  EXPECT_EQ(config.sentinels[2], (std::pair<std::string, int>{"10.0.0.3", 1}));
  EXPECT_EQ(config.master_name, "count");
  EXPECT_THROW(ParseSentinelConfig("", "count"), std::invalid_argument);
  EXPECT_THROW(ParseSentinelConfig("s1:x", "count"), std::invalid_argument);
  EXPECT_THROW(ParseSentinelConfig(":1", "count"), std::invalid_argument);
  EXPECT_THROW(ParseSentinelConfig("s1:1", ""), std::invalid_argument);
}

// --- the client against a real server ---

TEST(RedisClient, ReturnsEveryReplyType) {
  RedisClient client(SharedTopology().primary().endpoint());
  Reply set = client.Command({"SET", "client:bin", std::string("a\0b", 3)});
  EXPECT_EQ(set.type, Reply::Type::kStatus);
  Reply got = client.Command({"GET", "client:bin"});
  EXPECT_EQ(got.type, Reply::Type::kString);
  EXPECT_EQ(got.str, std::string("a\0b", 3));
  EXPECT_TRUE(client.Command({"GET", "client:missing"}).IsNil());
  client.Command({"DEL", "client:n"});
  Reply n = client.Command({"INCRBY", "client:n", "41"});
  EXPECT_EQ(n.type, Reply::Type::kInteger);
  EXPECT_EQ(n.integer, 41);
  Reply error = client.Command({"NOSUCHCOMMAND"});
  EXPECT_TRUE(error.IsError());
  EXPECT_NE(error.str.find("unknown command"), std::string::npos);
  client.Command({"DEL", "client:list"});
  client.Command({"RPUSH", "client:list", "a", "b"});
  Reply list = client.Command({"LRANGE", "client:list", "0", "-1"});
  ASSERT_EQ(list.type, Reply::Type::kArray);
  ASSERT_EQ(list.elements.size(), 2u);
  EXPECT_EQ(list.elements[1].str, "b");
  EXPECT_TRUE(client.Ping());
  EXPECT_EQ(client.CurrentEndpoint().port, SharedTopology().primary().port());
}

TEST(RedisClient, PipelineKeepsOrder) {
  RedisClient client(SharedTopology().primary().endpoint());
  client.Command({"DEL", "client:pipe"});
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 200; ++i) commands.push_back({"INCR", "client:pipe"});
  auto replies = client.Pipeline(std::move(commands));
  ASSERT_EQ(replies.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(replies[i].integer, i + 1);
}

TEST(RedisClient, UnreachableServerFailsWithinTheTimeout) {
  RedisClient client(RedisEndpoint{"127.0.0.1", count::testing::FreePort(), "", "", 0},
                     {.pool_size = 1, .timeout = 200ms});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(client.Command({"PING"}), core::StoreUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_FALSE(client.Ping());
}

TEST(RedisClient, ReconnectsAfterTheConnectionIsKilled) {
  const auto endpoint = SharedTopology().primary().endpoint();
  RedisClient client(endpoint, {.pool_size = 1});
  ASSERT_TRUE(client.Ping());
  testing::Run(endpoint, {"CLIENT", "KILL", "TYPE", "normal"});
  // The command that finds the dead socket may fail; the client reconnects by itself.
  EXPECT_TRUE(WaitUntil([&] { return client.Ping(); }, 5s));
}

TEST(RedisClient, ResendsOnlyReadOnlyCommandsAfterTheConnectionBroke) {
  const auto endpoint = SharedTopology().primary().endpoint();
  RedisClient client(endpoint, {.pool_size = 1});
  client.Command({"SET", "client:resend", "5"});
  // A write that finds the dead socket fails: it may have been applied, so it is not resent.
  testing::Run(endpoint, {"CLIENT", "KILL", "TYPE", "normal"});
  EXPECT_THROW(client.Command({"INCR", "client:resend"}), core::StoreUnavailable);
  // A read is resent on a new connection: the caller sees only the answer.
  ASSERT_TRUE(client.Ping());
  testing::Run(endpoint, {"CLIENT", "KILL", "TYPE", "normal"});
  EXPECT_EQ(client.Command({"GET", "client:resend"}).str, "5");
}

TEST(RedisClient, AuthenticatesAndSelectsTheDatabase) {
  testing::ExpectAuthenticatesAndSelects([](RedisClient& client, std::vector<std::string> args) {
    return client.Command(std::move(args));
  });
}

// --- sentinel ---

TEST(RedisSentinel, ClientFindsThePrimary) {
  RedisTopology& topology = SharedTopology();
  RedisClient client(topology.sentinel_config());
  EXPECT_EQ(client.Command({"SET", "sentinel:k", "1"}).str, "OK");
  EXPECT_EQ(client.CurrentEndpoint().port, topology.primary().port());
}

TEST(RedisSentinel, UnknownMasterNameIsUnavailable) {
  SentinelConfig config = SharedTopology().sentinel_config();
  config.master_name = "nobody";
  RedisClient client(config, {.pool_size = 1, .timeout = 300ms});
  try {
    client.Command({"PING"});
    FAIL();
  } catch (const core::StoreUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("nobody"), std::string::npos) << e.what();
  }
}

// Kills the primary; the sentinel promotes the replica and a client built from the
// sentinel resumes writing there without help.
TEST(RedisSentinel, ClientFollowsAFailover) {
  RedisTopology topology;  // its own servers: this test changes who is primary
  RedisClient client(topology.sentinel_config(), {.pool_size = 2, .timeout = 1s});
  RedisCountValueStore store(client);
  core::CountInfo info;
  info.id = "failover";
  ASSERT_TRUE(store.Create(info, 41));
  ASSERT_GE(client.Command({"WAIT", "1", "1000"}).integer, 0);
  ASSERT_TRUE(WaitUntil([&] {
    return testing::Run(topology.replica().endpoint(), {"HGET", "count:{failover}", "v"}).str ==
           "41";
  }));

  const auto start = std::chrono::steady_clock::now();
  topology.primary().process().Kill();
  const core::Mutation increment{core::MutationKind::kIncrement, "failover", 1};
  bool applied = false;
  while (!applied && std::chrono::steady_clock::now() - start < 15s) {
    try {
      applied = store.Apply({&increment, 1}, nullptr).status == core::ApplyResult::Status::kApplied;
    } catch (const core::StoreUnavailable&) {
      // the primary is gone until the sentinel promotes the replica
    }
  }
  ASSERT_TRUE(applied) << "no write succeeded within 15 s of the failover";
  RecordProperty("failover_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - start)
                                      .count()));
  EXPECT_EQ(client.CurrentEndpoint().port, topology.replica().port());
  auto record = store.Get("failover");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->value, 42);
}

// A graceful failover demotes the old primary without closing our connection: the next
// write gets READONLY, and the client re-resolves and retries it on the new primary.
TEST(RedisSentinel, ClientRetriesAWriteRefusedAsReadonly) {
  RedisTopology topology;
  const auto primary = topology.primary().endpoint();
  const auto replica = topology.replica().endpoint();
  RedisClient client(topology.sentinel_config(), {.pool_size = 1});
  RedisCountValueStore store(client);
  core::CountInfo info;
  info.id = "graceful";
  ASSERT_TRUE(store.Create(info, 1));
  ASSERT_EQ(client.Command({"WAIT", "1", "1000"}).integer, 1);

  ASSERT_TRUE(topology.FailOverGracefully());
  ASSERT_EQ(client.CurrentEndpoint().port, primary.port) << "still connected to the old primary";

  const core::Mutation increment{core::MutationKind::kIncrement, "graceful", 1};
  core::ApplyResult r = store.Apply({&increment, 1}, nullptr);
  ASSERT_TRUE(std::holds_alternative<core::Applied>(r.outcomes.at(0)));
  EXPECT_EQ(std::get<core::Applied>(r.outcomes[0]).value, 2);
  EXPECT_EQ(client.CurrentEndpoint().port, replica.port);
  EXPECT_EQ(testing::Run(replica, {"HGET", "count:{graceful}", "v"}).str, "2");
  EXPECT_NE(testing::Run(primary, {"INFO", "errorstats"}).str.find("errorstat_READONLY:count=1"),
            std::string::npos)
      << "the first attempt was refused by the old primary";
}

}  // namespace
}  // namespace count::redis
