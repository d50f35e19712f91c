#pragma once
// The read service as a module, installed by both count-read-service and count-system.
#include "core/ports.hpp"
#include "read_api.hpp"

namespace count::read {

class ReadModule {
 public:
  // `values`: the replica in services mode, the one store standalone.
  ReadModule(http::Router& router, core::CountValueStore& values) : api_(values) {
    api_.Register(router);
  }

 private:
  ReadApi api_;
};

}  // namespace count::read
