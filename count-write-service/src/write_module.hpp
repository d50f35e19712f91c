#pragma once
// The write service as a module: what it installs into a host (its use cases and routes),
// written once and installed by both count-write-service and count-system.
#include "core/ports.hpp"
#include "count_writes.hpp"
#include "runtime/config.hpp"
#include "write_api.hpp"

namespace count::write {

// Settings, read once from the environment.
struct WriteSettings {
  bool auto_create = false;  // COUNT_AUTO_CREATE: a write may create an unknown counter
  static WriteSettings FromEnv(const runtime::Env& env);
};

struct WriteStores {
  core::CountValueStore& values;  // authoritative for values
  core::CountInfoStore& info;     // the record of which counters exist
  // The value store on the event loops (Redis): writes and reads then run as async handlers
  // on their loop; without it (SQLite) every route runs on the blocking pool.
  core::AsyncCountValueStore* loop_values = nullptr;
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
