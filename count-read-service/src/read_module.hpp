#pragma once
// The read service as a module, installed by both count-read-service and count-system.
#include "core/ports.hpp"
#include "read_api.hpp"

namespace count::read {

class ReadModule {
 public:
  // `values`: the replica in services mode, the one store standalone; `loop_values`: the same
  // on the event loops, when the store has such an adapter (Redis).
  ReadModule(http::Router& router, core::CountValueStore& values,
             core::AsyncCountValueStore* loop_values = nullptr)
      : api_(values, loop_values) {
    api_.Register(router);
  }

 private:
  ReadApi api_;
};

}  // namespace count::read
