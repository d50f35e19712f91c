#pragma once
// Settings → adapters: the one place that reads connection settings from the
// environment and builds clients, so every binary wires its stores the same way.
#include <memory>
#include <string_view>

#include "postgres/pg_pool.hpp"
#include "redis/redis_client.hpp"
#include "runtime/config.hpp"

namespace count::wiring {

// A client for the Redis named by `url_setting` (REDIS_URL, REDIS_REPLICA_URL, ...). For
// REDIS_URL, REDIS_SENTINELS + REDIS_MASTER_NAME take precedence when set (seed 000).
// REDIS_POOL_SIZE and REDIS_TIMEOUT_MS tune it. Throws runtime::ConfigError.
std::unique_ptr<redis::RedisClient> RedisFromEnv(const runtime::Env& env,
                                                 std::string_view url_setting);

// DATABASE_URL (required), DATABASE_POOL_SIZE, DATABASE_STATEMENT_TIMEOUT_MS.
std::unique_ptr<postgres::PgPool> PostgresFromEnv(const runtime::Env& env,
                                                  std::string_view url_setting = "DATABASE_URL");

}  // namespace count::wiring
