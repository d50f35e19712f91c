#include "redis/redis_replica_acks.hpp"

#include <pthread.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

#include "redis/redis_connection.hpp"

namespace count::redis {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct RedisReplicaAcks::State {
  struct Waiter {
    Clock::time_point deadline;
    std::function<void(bool)> done;
  };
  struct Group {
    std::vector<Waiter> fenced;  // applied before the fence in flight (or the last one) was sent
    std::vector<Waiter> next;    // arrived since
    bool in_flight = false;
    std::unique_ptr<asio::steady_timer> retry;
  };
  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> work{loop.get_executor()};
  RedisLoopClient redis;
  std::vector<Group> groups;
  std::thread thread;

  State(RedisClient& client, std::size_t n) : redis(client, [this] { return &loop; }), groups(n) {}
};

RedisReplicaAcks::RedisReplicaAcks(RedisClient& client, const KeyLayout& layout,
                                   ReplicaAcksOptions options)
    : layout_(layout),
      options_(options),
      // A WAIT ends within this, so a round gives up on writes whose time is up, and stays
      // within the client's timeout for the call.
      round_(std::clamp(client.options().timeout / 2, std::chrono::milliseconds(1),
                        std::chrono::milliseconds(200))),
      state_(std::make_unique<State>(client, layout.groups())) {
  state_->thread = std::thread([s = state_.get()] {
    pthread_setname_np(pthread_self(), "replica-acks");
    s->loop.run();
  });
}

RedisReplicaAcks::~RedisReplicaAcks() {
  state_->work.reset();
  state_->loop.stop();
  state_->thread.join();
  for (auto& g : state_->groups) {
    for (auto& w : g.fenced) w.done(false);
    for (auto& w : g.next) w.done(false);
  }
}

void RedisReplicaAcks::Await(std::string position, std::function<void(bool)> done) {
  const auto group = PositionGroup(position);
  if (!group || *group >= layout_.groups()) return done(false);
  waiting_.fetch_add(1);
  asio::post(state_->loop, [this, g = *group, done = std::move(done)]() mutable {
    auto& group = state_->groups[g];
    group.next.push_back({Clock::now() + options_.wait, std::move(done)});
    if (!group.in_flight && !group.retry) Fence(g);
  });
}

void RedisReplicaAcks::Fence(std::size_t g) {
  auto& group = state_->groups[g];
  group.fenced.insert(group.fenced.end(), std::make_move_iterator(group.next.begin()),
                      std::make_move_iterator(group.next.end()));
  group.next.clear();
  if (group.fenced.empty()) return;
  group.in_flight = true;
  const auto first = std::ranges::min(group.fenced, {}, &State::Waiter::deadline).deadline;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(first - Clock::now());
  const auto wait = std::clamp(left, std::chrono::milliseconds(1), round_);
  std::vector<std::vector<std::string>> commands{
      {"SET", layout_.Stream(g) + ":fence", "1"},
      {"WAIT", std::to_string(options_.replicas), std::to_string(wait.count())}};
  state_->redis.Here().Send(
      std::move(commands), [this, g](std::exception_ptr error, Replies replies) {
        // Redis away (a primary killed, before its replica is promoted): the writes wait on, up to
        // their deadline; what the dead primary held and did not pass on is lost with it.
        const bool failed = error || replies.size() != 2 || replies[0].IsError() ||
                            replies[1].type != Reply::Type::kInteger;
        Fenced(g, !failed && replies[1].integer >= options_.replicas, failed);
      });
}

void RedisReplicaAcks::Fenced(std::size_t g, bool durable, bool failed) {
  auto& group = state_->groups[g];
  group.in_flight = false;
  const auto now = Clock::now();
  std::vector<std::function<void(bool)>> answered;
  std::erase_if(group.fenced, [&](State::Waiter& w) {
    if (!durable && now < w.deadline) return false;  // fenced again with the next round
    answered.push_back(std::move(w.done));
    return true;
  });
  waiting_.fetch_sub(answered.size());
  for (auto& done : answered) done(durable);
  if (group.fenced.empty() && group.next.empty()) return;
  if (!failed) return Fence(g);
  // A call that failed at once (no connection) is not repeated at once.
  group.retry = std::make_unique<asio::steady_timer>(state_->loop, std::chrono::milliseconds(50));
  group.retry->async_wait([this, g](boost::system::error_code) {
    state_->groups[g].retry.reset();
    Fence(g);
  });
}

}  // namespace count::redis
