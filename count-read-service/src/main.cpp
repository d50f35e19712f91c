// count-read-service: UC-002 reads from the Redis replica. Wiring only.
#include "read_api.hpp"
#include "redis/redis_count_value_store.hpp"
#include "runtime/service.hpp"
#include "wiring/from_env.hpp"

int main() {
  return count::runtime::RunMain("count-read-service", [] {
    count::runtime::Env env;
    count::runtime::Service service("count-read-service", 3001, env);
    auto redis = count::wiring::RedisReplicaFromEnv(env);
    count::redis::RedisCountValueStore values(*redis);
    count::read::ReadApi api(values);
    api.Register(service.router());
    service.AddReadinessCheck("redis_replica", [&] { return values.Ping(); });
    return service.Run();
  });
}
