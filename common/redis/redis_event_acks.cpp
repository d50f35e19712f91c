#include "redis/redis_event_acks.hpp"

#include <pthread.h>

#include <charconv>

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

std::optional<RedisEventAcks::Record> RedisEventAcks::Read() {
  try {
    Reply r = client_.Command({"HMGET", std::string(kPublishedKey), "epoch", "base", "last"});
    if (r.type != Reply::Type::kArray || r.elements.size() != 3) return std::nullopt;
    auto base = ParseStreamId(r.elements[1].str), last = ParseStreamId(r.elements[2].str);
    if (!base || !last) return std::nullopt;
    return Record{r.elements[0].str, *base, *last};
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
    const auto record = Read();
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::function<void(bool)>, bool>> answers;
    lock.lock();
    std::erase_if(waiting_, [&](Waiter& w) {
      // Another epoch, or below base: the outbox it was in is gone (Redis wiped) and never
      // reached the bus. (A record without an epoch was written before the stream's first
      // write: it says nothing yet.)
      const auto& p = w.position;
      const bool same = record && record->epoch == p.epoch;
      const bool durable = same && record->base <= p.id && p.id <= record->last;
      const bool lost = record && !record->epoch.empty() && (!same || p.id < record->base);
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
