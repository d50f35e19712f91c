#pragma once
// Redis on an event loop: one pipelining connection per loop, so a request's store call
// never leaves the thread that read the request (no handoff, no wake-up of another thread).
// Commands are written back to back, those sent in one turn of the loop in one write; replies
// are matched to them in order (a FIFO of pending replies); AUTH, SELECT and (behind Sentinel) ROLE
// on connect; reconnect with backoff; a call not answered within the timeout fails with
// core::StoreUnavailable. Behind Sentinel the master is resolved by the blocking client
// (RedisClient::Resolve) on a thread of its own and handed over, and READONLY/LOADING replies and
// broken reads are retried once, exactly as RedisClient does.
//
// Why hand-written: Debian 12 packages no maintained Asio Redis client (Boost.Redis arrived
// with Boost 1.84; Debian 12 ships 1.74 and 1.81, and `apt-cache search boost redis` finds
// nothing), and hiredis's own async API needs an adapter it does not ship for Asio. So this
// joins maintained parts: an Asio socket, hiredis's command formatter
// (redisFormatCommandArgv) and its reply parser (redisReader); only the FIFO, the timeouts and
// the reconnects are ours. Asio stays inside redis_connection.cpp.
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "redis/redis_client.hpp"

namespace boost::asio {
class io_context;
}

namespace count::redis {

using Replies = std::vector<Reply>;
// Called on the connection's loop: the replies in order, or why there are none
// (core::StoreUnavailable).
using RepliesFn = std::function<void(std::exception_ptr error, Replies replies)>;

class RedisConnection {
 public:
  virtual ~RedisConnection() = default;
  // Sends `commands` back to back, behind whatever is in flight. Call it on the loop.
  virtual void Send(std::vector<std::vector<std::string>> commands, RepliesFn done) = 0;
  // Runs `f` on the connection's loop after the handlers that are ready now (asio::post):
  // what the requests read in this turn of the loop submit goes out together.
  virtual void Defer(std::function<void()> f) = 0;
};

// The connections of every loop to one Redis: each loop gets its own on first use.
class RedisLoopClient {
 public:
  using LoopFn = std::function<boost::asio::io_context*()>;
  // Connects where `client` does (its endpoint, or the master its sentinels name), with its
  // timeout. `this_loop` says which loop the calling thread runs (http::ThisLoop in a
  // service).
  RedisLoopClient(RedisClient& client, LoopFn this_loop);
  ~RedisLoopClient();
  RedisLoopClient(const RedisLoopClient&) = delete;
  RedisLoopClient& operator=(const RedisLoopClient&) = delete;

  // The connection of the calling thread's loop; throws std::logic_error off a loop.
  RedisConnection& Here();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// RedisClient's way to a Redis Cluster: the loop client's cluster routing on a loop thread of
// its own, which the blocking calls wait for. Internal to RedisClient.
class BlockingClusterPipe {
 public:
  explicit BlockingClusterPipe(RedisClient& client);
  ~BlockingClusterPipe();
  BlockingClusterPipe(const BlockingClusterPipe&) = delete;
  BlockingClusterPipe& operator=(const BlockingClusterPipe&) = delete;
  // The replies in order; throws core::StoreUnavailable.
  std::vector<Reply> Pipeline(std::vector<std::vector<std::string>> commands);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace count::redis
