#pragma once
// What both Redis clients (redis_client.cpp, blocking; redis_connection.cpp, on an event loop)
// share about hiredis replies and commands. Internal to count_redis.
#include <hiredis/read.h>

#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_client.hpp"

namespace count::redis::detail {

// A command's arguments as hiredis's *Argv functions take them.
struct Argv {
  explicit Argv(const std::vector<std::string>& args) {
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int argc() const { return static_cast<int>(argv.size()); }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
};

// An owned copy of a hiredis reply.
Reply ToReply(const redisReply& r);

// Commands that only read: sending one again after its connection broke cannot change
// anything, so it is resent once instead of failing (Sentinel's promotion of a replica
// closes every client connection of the new primary, for one).
bool IsReadOnly(const std::vector<std::string>& args);

// An error reply that a Sentinel-followed client retries once on the master it resolves
// next: the server was demoted (READONLY) or is still loading its data (LOADING).
bool IsRetriedAfterFailover(const Reply& reply);

}  // namespace count::redis::detail
