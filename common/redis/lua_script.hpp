#pragma once
// A server-side Lua script run with EVALSHA, loaded on first use and re-sent with EVAL
// when the server lost its script cache (restart, failover).
#include <mutex>
#include <string>
#include <vector>

#include "redis/redis_client.hpp"

namespace count::redis {

class LuaScript {
 public:
  explicit LuaScript(std::string body) : body_(std::move(body)) {}
  // Error replies throw core::StoreUnavailable.
  Reply Run(RedisClient& client, const std::vector<std::string>& keys,
            const std::vector<std::string>& args);

 private:
  std::string body_;
  std::mutex mu_;
  std::string sha_;  // from SCRIPT LOAD
};

}  // namespace count::redis
