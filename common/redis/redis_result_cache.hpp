#pragma once
// ResultCache on the Redis cache tier (REDIS_CACHE_URL): GET, and SET with PX. A failing cache
// is a miss (Get answers nullopt, Put does nothing), so an answer never waits on it failing
// twice: after a failure it is not asked again for `backoff`.
#include <atomic>
#include <chrono>

#include "core/ports.hpp"
#include "redis/redis_client.hpp"

namespace count::redis {

class RedisResultCache final : public core::ResultCache {
 public:
  explicit RedisResultCache(RedisClient& client,
                            std::chrono::milliseconds backoff = std::chrono::seconds(5))
      : client_(client), backoff_(backoff) {}
  std::optional<std::string> Get(std::string_view key) override;
  void Put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) override;

 private:
  bool Available() const;
  void Failed();

  RedisClient& client_;
  const std::chrono::milliseconds backoff_;
  std::atomic<std::int64_t> retry_at_ms_{0};  // steady clock: no call before this
};

}  // namespace count::redis
