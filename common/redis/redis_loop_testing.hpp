#pragma once
// Test-only: an event loop on a thread of its own and a RedisLoopClient on it, so a test can
// send through the loop client and wait for the answer; the value stores on it
// (redis_connection_test.cpp, redis_cluster_test.cpp).
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <future>
#include <thread>

#include "core/ports.hpp"
#include "redis/key_layout.hpp"
#include "redis/redis_connection.hpp"
#include "redis/redis_count_value_store.hpp"
#include "redis/redis_loop_count_value_store.hpp"

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

class LoopStore {
 public:
  explicit LoopStore(RedisClient& client, KeyLayout layout = KeyLayout::Single())
      : values_(client, core::Now, {}, std::move(layout)),
        connected_(client),
        loop_values_(values_, connected_.redis()) {}

  core::ApplyResult Apply(std::span<const core::Mutation> mutations,
                          const core::IdempotencyKey* key) {
    auto [error, result] =
        connected_.loop().Wait<std::pair<std::exception_ptr, core::ApplyResult>>([&](auto answer) {
          loop_values_.Apply(mutations, key, [answer](std::exception_ptr e, core::ApplyResult r) {
            answer({e, std::move(r)});
          });
        });
    if (error) std::rethrow_exception(error);
    return result;
  }
  template <class T, class Call>
  T Read(Call call) {
    auto [error, result] =
        connected_.loop().Wait<std::pair<std::exception_ptr, T>>([&](auto answer) {
          call(loop_values_, [answer](std::exception_ptr e, T r) { answer({e, std::move(r)}); });
        });
    if (error) std::rethrow_exception(error);
    return result;
  }

  RedisCountValueStore& values() { return values_; }
  Connected& connected() { return connected_; }
  RedisLoopCountValueStore& loop_values() { return loop_values_; }

 private:
  RedisCountValueStore values_;
  Connected connected_;
  RedisLoopCountValueStore loop_values_;
};

// The contract suite's CountValueStore whose request-path calls go through
// RedisLoopCountValueStore on a loop (creation and the rest through the blocking store, as in
// the services).
class LoopBackedValues : public core::CountValueStore {
 public:
  explicit LoopBackedValues(RedisClient& client, KeyLayout layout = KeyLayout::Single())
      : s_(client, std::move(layout)) {}
  core::ApplyResult Apply(std::span<const core::Mutation> m,
                          const core::IdempotencyKey* key) override {
    return s_.Apply(m, key);
  }
  std::optional<core::CountRecord> Get(std::string_view id) override {
    return s_.Read<std::optional<core::CountRecord>>(
        [&](auto& store, auto done) { store.Get(id, done); });
  }
  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override {
    return s_.Read<std::vector<std::optional<core::CountRecord>>>(
        [&](auto& store, auto done) { store.GetMany(ids, done); });
  }
  bool Create(const core::CountInfo& info, std::int64_t v) override {
    return s_.values().Create(info, v);
  }
  UpdateResult UpdateInfo(const core::CountInfo& info) override {
    return s_.values().UpdateInfo(info);
  }
  bool Delete(std::string_view id, bool purge) override { return s_.values().Delete(id, purge); }
  bool Ping() override { return s_.values().Ping(); }

 private:
  LoopStore s_;
};

}  // namespace count::redis::testing
