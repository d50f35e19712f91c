#include "redis/redis_event_acks.hpp"

#include <pthread.h>

#include <charconv>

#include "redis/redis_count_value_store.hpp"
#include "redis/redis_outbox.hpp"

namespace count::redis {

std::optional<StreamId> ParseStreamId(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  StreamId id;
  auto number = [](std::string_view part, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return !part.empty() && ec == std::errc{} && end == part.data() + part.size();
  };
  if (!number(text.substr(0, dash), id.first) || !number(text.substr(dash + 1), id.second))
    return std::nullopt;
  return id;
}

std::optional<OutboxPosition> ParsePosition(std::string_view text) {
  const auto slash = text.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  const auto id = ParseStreamId(text.substr(slash + 1));
  if (!id) return std::nullopt;
  return OutboxPosition{std::string(text.substr(0, slash)), *id};
}

RedisEventAcks::RedisEventAcks(RedisClient& client, EventAcksOptions options)
    : client_(client), options_(options), thread_([this] { Run(); }) {}

RedisEventAcks::~RedisEventAcks() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& w : waiting_) w.done(false);
}

void RedisEventAcks::Await(std::string position, std::function<void(bool)> done) {
  auto id = ParsePosition(position);
  if (!id) return done(false);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      waiting_.push_back(
          {std::move(*id), std::chrono::steady_clock::now() + options_.wait, std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(false);
}

std::size_t RedisEventAcks::Waiting() {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

std::optional<RedisEventAcks::State> RedisEventAcks::Read() {
  try {
    auto r = client_.Pipeline({{"HMGET", std::string(kPublishedKey), "epoch", "base", "last"},
                               {"GET", std::string(kEventEpoch)}});
    if (r.size() != 2 || r[0].type != Reply::Type::kArray || r[0].elements.size() != 3 ||
        r[1].IsError())
      return std::nullopt;
    State state{std::nullopt, r[1].str};
    auto base = ParseStreamId(r[0].elements[1].str), last = ParseStreamId(r[0].elements[2].str);
    if (base && last) state.record = Record{r[0].elements[0].str, *base, *last};
    return state;
  } catch (const std::exception&) {
    return std::nullopt;  // Redis away: the writes wait on, up to their deadline
  }
}

void RedisEventAcks::Run() {
  pthread_setname_np(pthread_self(), "event-acks");
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    lock.unlock();
    const auto state = Read();
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::function<void(bool)>, bool>> answers;
    lock.lock();
    std::erase_if(waiting_, [&](Waiter& w) {
      // The stream has another epoch (or none), or the position is below base: the outbox it
      // was in is gone (Redis wiped) and what was still in it never reached the bus.
      const auto& p = w.position;
      const auto* record = state && state->record ? &*state->record : nullptr;
      const bool same = record && record->epoch == p.epoch;
      const bool durable = same && record->base <= p.id && p.id <= record->last;
      const bool lost = state && (state->epoch != p.epoch || (same && p.id < record->base));
      if (!durable && !lost && now < w.deadline) return false;
      answers.emplace_back(std::move(w.done), durable);
      return true;
    });
    lock.unlock();
    for (auto& [done, durable] : answers) done(durable);
    lock.lock();
    cv_.wait_for(lock, options_.poll, [&] { return stopping_; });
  }
}

}  // namespace count::redis
