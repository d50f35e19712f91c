// RedisResultCache against a real redis-server: hits, expiry, and a cache that is down
// answering as a miss at once instead of failing or slowing the caller.
#include "redis/redis_result_cache.hpp"

#include <gtest/gtest.h>

#include "core/event.hpp"
#include "redis/redis_test_servers.hpp"
#include "testing/process.hpp"

namespace count::redis {
namespace {

using namespace std::chrono_literals;

TEST(RedisResultCache, StoresUntilItsTimeToLive) {
  RedisClient client(testing::SharedTopology().primary().endpoint());
  RedisResultCache cache(client);
  const std::string key = "test-" + core::NewEventId();
  EXPECT_FALSE(cache.Get(key));
  cache.Put(key, R"({"a":1})", 200ms);
  EXPECT_EQ(cache.Get(key), R"({"a":1})");
  EXPECT_TRUE(testing::WaitUntil([&] { return !cache.Get(key); }, 5s))
      << "the entry outlived its ttl";
}

TEST(RedisResultCache, AServerThatIsDownIsAMiss) {
  const int port = count::testing::FreePort();  // nothing listens there
  RedisClient client(RedisEndpoint{"127.0.0.1", port, "", "", 0}, {.timeout = 100ms});
  RedisResultCache cache(client);
  EXPECT_NO_THROW(cache.Put("k", "v", 1s));
  EXPECT_FALSE(cache.Get("k"));
  EXPECT_FALSE(cache.Get("k"));  // within the backoff: not asked, still a miss
}

}  // namespace
}  // namespace count::redis
