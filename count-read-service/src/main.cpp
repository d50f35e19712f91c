// count-read-service: UC-002 reads from the Redis replica. Wiring only.
#include "http/event_loop.hpp"
#include "read_module.hpp"
#include "redis/redis_count_value_store.hpp"
#include "redis/redis_loop_count_value_store.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"

int main() {
  using namespace count;
  return runtime::RunMain("count-read-service", [] {
    runtime::Env env;
    runtime::Service service("count-read-service", 3001, env);
    auto redis = wiring::RedisReplicaFromEnv(env);
    redis::RedisCountValueStore values(*redis, core::Now, {}, wiring::KeyLayoutFromEnv(env));
    // Reads go out on each event loop's own connection (no thread handoff per request).
    redis::RedisLoopClient loop_redis(*redis, http::ThisLoop);
    redis::RedisLoopCountValueStore loop_values(values, loop_redis);
    read::ReadModule module(service.router(), values, &loop_values);
    service.AddReadinessCheck("redis_replica", [&] { return values.Ping(); });
    return service.Run();
  });
}
