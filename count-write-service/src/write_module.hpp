#pragma once
// The write service as a module: what it installs into a host (its use cases and routes),
// written once and installed by both count-write-service and count-system.
#include <chrono>

#include "core/event.hpp"
#include "core/ports.hpp"
#include "count_writes.hpp"
#include "runtime/config.hpp"
#include "write_api.hpp"

namespace count::write {

// Settings, read once from the environment.
struct WriteSettings {
  bool auto_create = false;  // COUNT_AUTO_CREATE: a write may create an unknown counter
  // WRITE_ACK: when a change is answered. redis (default): once it and its event are in
  // Redis. kafka: once Kafka has also acknowledged its event (acks=all), so losing Redis
  // loses no answered change; WRITE_ACK_TIMEOUT_MS bounds that wait (docs/API.md). replica:
  // once a replica of its Redis primary also holds it (Redis WAIT), so a primary killed
  // loses no answered change (redis/redis_replica_acks.hpp).
  bool ack_kafka = false;
  bool ack_replica = false;
  std::chrono::milliseconds ack_timeout{5000};
  // Throws runtime::ConfigError for a WRITE_ACK other than redis, kafka or replica.
  static WriteSettings FromEnv(const runtime::Env& env);
};

struct WriteStores {
  core::CountValueStore& values;  // authoritative for values
  core::CountInfoStore& info;     // the record of which counters exist
  // The value store on the event loops (Redis): writes and reads then run as async handlers
  // on their loop; without it (SQLite) every route runs on the blocking pool.
  core::AsyncCountValueStore* loop_values = nullptr;
  // With WRITE_ACK=kafka or replica: when a change is durable (none: answer at once).
  core::EventAcks* acks = nullptr;
};

class WriteModule {
 public:
  // `strong_read`: also serve GET /api/v1/counts/{id} from the value store (the service
  // does; standalone leaves that route to the read module).
  WriteModule(http::Router& router, WriteStores stores, WriteSettings settings,
              bool strong_read = true);

 private:
  CountWrites writes_;
  WriteApi api_;
};

}  // namespace count::write
