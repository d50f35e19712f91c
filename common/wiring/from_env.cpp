#include "wiring/from_env.hpp"

namespace count::wiring {

std::unique_ptr<redis::RedisClient> RedisFromEnv(const runtime::Env& env,
                                                 std::string_view url_setting) {
  redis::RedisClientOptions options;
  options.pool_size = static_cast<std::size_t>(env.Int("REDIS_POOL_SIZE", 2, 1, 64));
  options.timeout = std::chrono::milliseconds(env.Int("REDIS_TIMEOUT_MS", 2000, 10, 60000));
  if (url_setting == "REDIS_URL") {
    if (auto sentinels = env.Get("REDIS_SENTINELS")) {
      try {
        return std::make_unique<redis::RedisClient>(
            redis::ParseSentinelConfig(*sentinels, env.Require("REDIS_MASTER_NAME")), options);
      } catch (const std::invalid_argument& e) {
        throw runtime::ConfigError("setting REDIS_SENTINELS: " + std::string(e.what()));
      }
    }
  }
  const auto url = env.Require(url_setting);
  try {
    return std::make_unique<redis::RedisClient>(redis::ParseRedisUrl(url), options);
  } catch (const std::invalid_argument& e) {
    throw runtime::ConfigError("setting " + std::string(url_setting) + ": " + e.what());
  }
}

std::unique_ptr<postgres::PgPool> PostgresFromEnv(const runtime::Env& env,
                                                  std::string_view url_setting) {
  postgres::PgPoolOptions options;
  options.database_url = env.Require(url_setting);
  options.size = static_cast<std::size_t>(env.Int("DATABASE_POOL_SIZE", 4, 1, 256));
  options.statement_timeout =
      std::chrono::milliseconds(env.Int("DATABASE_STATEMENT_TIMEOUT_MS", 5000, 100, 600000));
  return std::make_unique<postgres::PgPool>(options);
}

}  // namespace count::wiring
