// count-read-service: UC-002 reads from the Redis replica. Wiring only.
#include "read_api.hpp"
#include "redis/redis_count_value_store.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"

int main() {
  return count::runtime::RunMain("count-read-service", [] {
    count::runtime::Env env;
    count::runtime::Service service("count-read-service", 3001, env);
    // Reads go to the replica; a deployment without one reads the primary.
    const bool replica = env.Get("REDIS_REPLICA_URL") || !env.Get("REDIS_URL");
    auto redis = count::wiring::RedisFromEnv(env, replica ? "REDIS_REPLICA_URL" : "REDIS_URL");
    count::redis::RedisCountValueStore values(*redis);
    count::read::ReadApi api(values);
    api.Register(service.router());
    service.AddReadinessCheck("redis_replica", [&] { return values.Ping(); });
    return service.Run();
  });
}
