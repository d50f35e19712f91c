#pragma once
// Test-only: an event loop on a thread of its own and a RedisLoopClient on it, so a test can
// send through the loop client and wait for the answer (redis_connection_test.cpp,
// redis_cluster_test.cpp).
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <future>
#include <thread>

#include "redis/redis_connection.hpp"

namespace count::redis::testing {

// One event loop on its own thread, as a server's loop runs.
class Loop {
 public:
  Loop() : work_(boost::asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}
  ~Loop() {
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  boost::asio::io_context* context() { return &ioc_; }

  // Runs `start` on the loop; it hands its answer to the callback it is given.
  template <class T>
  T Wait(std::function<void(std::function<void(T)>)> start) {
    std::promise<T> promise;
    boost::asio::post(ioc_, [&] { start([&](T value) { promise.set_value(std::move(value)); }); });
    return promise.get_future().get();
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

struct Answer {
  std::exception_ptr error;
  Replies replies;
};

class Connected {
 public:
  explicit Connected(RedisClient& client) : redis_(client, [this] { return loop_.context(); }) {}

  Answer Send(std::vector<std::vector<std::string>> commands) {
    return loop_.Wait<Answer>([&](auto answer) {
      redis_.Here().Send(std::move(commands), [answer](std::exception_ptr e, Replies r) {
        answer({e, std::move(r)});
      });
    });
  }
  Reply Command(std::vector<std::string> args) {
    Answer a = Send({std::move(args)});
    if (a.error) std::rethrow_exception(a.error);
    return std::move(a.replies.front());
  }
  Loop& loop() { return loop_; }
  RedisLoopClient& redis() { return redis_; }

 private:
  Loop loop_;
  RedisLoopClient redis_;
};

}  // namespace count::redis::testing
