#pragma once
// What both Redis clients (redis_client.cpp, blocking; redis_connection.cpp, on an event loop)
// share about hiredis replies and commands. Internal to count_redis.
#include <hiredis/read.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_client.hpp"

namespace count::redis::detail {

// A command's arguments as hiredis's *Argv functions take them. One per thread is reused
// (Of), so formatting a command allocates nothing for them.
struct Argv {
  static Argv& Of(const std::vector<std::string>& args) {
    thread_local Argv a;
    a.argv.clear();
    a.lens.clear();
    for (const auto& arg : args) {
      a.argv.push_back(arg.data());
      a.lens.push_back(arg.size());
    }
    return a;
  }
  int argc() const { return static_cast<int>(argv.size()); }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
};

// hiredis's reply parser building Reply itself (redisReaderCreateWithFunctions): each value is
// parsed once into its place, instead of into hiredis's own objects that were then copied and
// freed (about 4 % of the write service's CPU, docs/BENCHMARKS.md). A reply the reader hands
// out is a `Reply*` for TakeReply.
extern redisReplyObjectFunctions reply_functions;

struct ReaderFree {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
using ReaderPtr = std::unique_ptr<redisReader, ReaderFree>;
// A reader whose replies are Reply objects; throws std::bad_alloc.
ReaderPtr NewReader();

// Takes over a reply the reader handed out.
inline Reply TakeReply(void* raw) {
  std::unique_ptr<Reply> owned(static_cast<Reply*>(raw));
  return std::move(*owned);
}

// Commands that only read: sending one again after its connection broke cannot change
// anything, so it is resent once instead of failing (Sentinel's promotion of a replica
// closes every client connection of the new primary, for one).
bool IsReadOnly(const std::vector<std::string>& args);

// An error reply that a Sentinel-followed client retries once on the master it resolves
// next: the server was demoted (READONLY) or is still loading its data (LOADING).
bool IsRetriedAfterFailover(const Reply& reply);

}  // namespace count::redis::detail
