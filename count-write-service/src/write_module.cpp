#include "write_module.hpp"

namespace count::write {

WriteSettings WriteSettings::FromEnv(const runtime::Env& env) {
  return {.auto_create = env.Bool("COUNT_AUTO_CREATE", false)};
}

WriteModule::WriteModule(http::Router& router, WriteStores stores, WriteSettings settings,
                         bool strong_read)
    : writes_(stores.values, stores.info, settings.auto_create, stores.loop_values),
      api_(writes_, {.strong_read = strong_read}) {
  api_.Register(router);
}

}  // namespace count::write
