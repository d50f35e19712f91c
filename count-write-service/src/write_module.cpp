#include "write_module.hpp"

namespace count::write {

WriteSettings WriteSettings::FromEnv(const runtime::Env& env) {
  const std::string ack = env.Or("WRITE_ACK", "redis");
  if (ack != "redis" && ack != "kafka" && ack != "replica")
    throw runtime::ConfigError("WRITE_ACK must be redis, kafka or replica, not '" + ack + "'");
  return {.auto_create = env.Bool("COUNT_AUTO_CREATE", false),
          .ack_kafka = ack == "kafka",
          .ack_replica = ack == "replica",
          .ack_timeout =
              std::chrono::milliseconds(env.Int("WRITE_ACK_TIMEOUT_MS", 5000, 100, 120'000))};
}

WriteModule::WriteModule(http::Router& router, WriteStores stores, WriteSettings settings,
                         bool strong_read)
    : writes_(stores.values, stores.info, settings.auto_create, stores.loop_values, stores.acks),
      api_(writes_, {.strong_read = strong_read}) {
  api_.Register(router);
}

}  // namespace count::write
