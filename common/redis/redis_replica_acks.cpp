#include "redis/redis_replica_acks.hpp"

#include <pthread.h>

#include <algorithm>
#include <charconv>

namespace count::redis {

std::optional<std::size_t> PositionGroup(std::string_view position) {
  const auto at = position.find('@');
  if (at == std::string_view::npos) return 0;
  std::size_t group = 0;
  auto [end, ec] = std::from_chars(position.data(), position.data() + at, group);
  if (at == 0 || ec != std::errc{} || end != position.data() + at) return std::nullopt;
  return group;
}

RedisReplicaAcks::RedisReplicaAcks(RedisClient& client, const KeyLayout& layout,
                                   ReplicaAcksOptions options)
    : client_(client), layout_(layout), options_(options), thread_([this] { Run(); }) {}

RedisReplicaAcks::~RedisReplicaAcks() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& w : waiting_) w.done(false);
}

void RedisReplicaAcks::Await(std::string position, std::function<void(bool)> done) {
  const auto group = PositionGroup(position);
  if (!group || *group >= layout_.groups()) return done(false);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      waiting_.push_back(
          {*group, std::chrono::steady_clock::now() + options_.wait, std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(false);
}

std::size_t RedisReplicaAcks::Waiting() {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

std::vector<long long> RedisReplicaAcks::Replicate(const std::vector<std::size_t>& groups,
                                                   std::chrono::milliseconds wait) {
  std::vector<std::vector<std::string>> commands;
  for (auto g : groups) {
    commands.push_back({"SET", layout_.Stream(g) + ":fence", "1"});
    commands.push_back({"WAIT", std::to_string(options_.replicas),
                        std::to_string(std::max<long long>(1, wait.count()))});
  }
  std::vector<long long> out(groups.size(), -1);
  try {
    const auto replies = client_.Pipeline(std::move(commands));
    for (std::size_t i = 0; i < groups.size(); ++i) {
      const Reply& fence = replies.at(2 * i);
      const Reply& waited = replies.at(2 * i + 1);
      if (!fence.IsError() && waited.type == Reply::Type::kInteger) out[i] = waited.integer;
    }
  } catch (const std::exception&) {
    // Redis away (a primary killed, before its replica is promoted): the writes wait on, up to
    // their deadline; what the dead primary held and did not pass on is lost with it.
  }
  return out;
}

void RedisReplicaAcks::Run() {
  pthread_setname_np(pthread_self(), "replica-acks");
  // Each WAIT blocks up to this long, so a round ends soon enough to take new writes and to
  // give up on those whose time is up.
  constexpr std::chrono::milliseconds kRound{200};
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    // The writes waiting now: the fence below is written after every one of them was applied.
    const std::size_t taken = waiting_.size();
    std::vector<std::size_t> groups;
    for (std::size_t i = 0; i < taken; ++i) groups.push_back(waiting_[i].group);
    lock.unlock();
    std::ranges::sort(groups);
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    const auto replicated = Replicate(groups, std::min(kRound, options_.wait));
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::function<void(bool)>, bool>> answers;
    lock.lock();
    std::size_t i = 0;
    std::erase_if(waiting_, [&](Waiter& w) {
      if (i++ >= taken) return false;  // came after the fence: the next round
      const auto at = std::ranges::lower_bound(groups, w.group) - groups.begin();
      const bool durable = replicated[at] >= options_.replicas;
      if (!durable && now < w.deadline) return false;
      answers.emplace_back(std::move(w.done), durable);
      return true;
    });
    lock.unlock();
    for (auto& [done, durable] : answers) done(durable);
    lock.lock();
  }
}

}  // namespace count::redis
