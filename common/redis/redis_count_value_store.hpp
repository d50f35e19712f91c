#pragma once
// CountValueStore on Redis. One hash per counter, key `count:{<id>}`:
//   v  value (decimal string)     u  updatedAt (epoch ms)     c  createdAt (epoch ms)
//   d  description                mn / mx  bounds (absent when unbounded)
// Every mutation is one server-side Lua script, so a write and its idempotency record
// (`idem:<key>`, a hash of fingerprint and outcomes, expiring after 24 h) are atomic.
#include <cstddef>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports.hpp"
#include "redis/redis_client.hpp"

namespace count::redis {

class RedisCountValueStore : public core::CountValueStore {
 public:
  static constexpr std::size_t kMaxBatch = 1000;

  // `clock` supplies the timestamps the scripts store (passed in, so results are
  // deterministic and testable).
  explicit RedisCountValueStore(RedisClient& client,
                                std::function<core::Timestamp()> clock = core::Now);

  // Throws std::invalid_argument for more than kMaxBatch mutations.
  core::ApplyResult Apply(std::span<const core::Mutation> mutations,
                          const core::IdempotencyKey* key, bool auto_create) override;
  std::optional<core::CountRecord> Get(std::string_view id) override;
  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override;
  bool Create(const core::CountInfo& info, std::int64_t initial_value) override;
  UpdateResult UpdateInfo(const core::CountInfo& info) override;
  bool Delete(std::string_view id) override;
  bool Ping() override;

  static std::string KeyOf(std::string_view id) { return "count:{" + std::string(id) + "}"; }

 private:
  struct Script {
    std::string body;
    std::string sha;  // from SCRIPT LOAD, guarded by sha_mu_
  };

  // EVALSHA, loading the script first when needed and falling back to EVAL on NOSCRIPT
  // (a fresh server after a failover). Error replies throw StoreUnavailable.
  Reply Eval(Script& script, const std::vector<std::string>& keys,
             const std::vector<std::string>& args);
  std::int64_t NowMs() const;

  RedisClient& client_;
  std::function<core::Timestamp()> clock_;
  std::mutex sha_mu_;
  Script apply_;
  Script create_;
  Script update_info_;
};

}  // namespace count::redis
