#include "redis/redis_event_acks.hpp"

#include <pthread.h>

#include <algorithm>
#include <charconv>

#include "redis/redis_grouped_outbox.hpp"

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

std::optional<std::size_t> PositionGroup(std::string_view position) {
  const auto at = position.find('@');
  if (at == std::string_view::npos) return 0;
  std::size_t group = 0;
  auto [end, ec] = std::from_chars(position.data(), position.data() + at, group);
  if (at == 0 || ec != std::errc{} || end != position.data() + at) return std::nullopt;
  return group;
}

RedisEventAcks::RedisEventAcks(RedisClient& client, EventAcksOptions options,
                               const KeyLayout& layout)
    : client_(client), layout_(layout), options_(options), thread_([this] { Run(); }) {}

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
  const auto group = PositionGroup(position);
  const auto at = position.find('@');
  auto id = ParsePosition(at == std::string::npos ? position : position.substr(at + 1));
  if (!group || *group >= layout_.groups() || !id) return done(false);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      waiting_.push_back({*group, std::move(*id), std::chrono::steady_clock::now() + options_.wait,
                          std::move(done)});
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

std::vector<std::optional<RedisEventAcks::State>> RedisEventAcks::Read(
    const std::vector<std::size_t>& groups) {
  std::vector<std::optional<State>> out(groups.size());
  std::vector<std::vector<std::string>> commands;
  for (auto g : groups) {
    const std::string stream = layout_.Stream(g);
    commands.push_back({"HMGET", stream + ":published", "epoch", "base", "last"});
    commands.push_back({"GET", stream + ":epoch"});
  }
  std::vector<Reply> r;
  try {
    r = client_.Pipeline(std::move(commands));
  } catch (const std::exception&) {
    return out;  // Redis away: the writes wait on, up to their deadline
  }
  for (std::size_t i = 0; i < groups.size() && r.size() == 2 * groups.size(); ++i) {
    const Reply &record = r[2 * i], &epoch = r[2 * i + 1];
    if (record.type != Reply::Type::kArray || record.elements.size() != 3 || epoch.IsError())
      continue;
    State state{std::nullopt, epoch.str};
    auto base = ParseStreamId(record.elements[1].str), last = ParseStreamId(record.elements[2].str);
    if (base && last) state.record = Record{record.elements[0].str, *base, *last};
    out[i] = std::move(state);
  }
  return out;
}

void RedisEventAcks::Run() {
  pthread_setname_np(pthread_self(), "event-acks");
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    std::vector<std::size_t> groups;
    for (const auto& w : waiting_) groups.push_back(w.group);
    lock.unlock();
    std::ranges::sort(groups);
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
    const auto states = Read(groups);
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::function<void(bool)>, bool>> answers;
    lock.lock();
    std::erase_if(waiting_, [&](Waiter& w) {
      // The stream has another epoch (or none), or the position is below base: the outbox it
      // was in is gone (Redis wiped) and what was still in it never reached the bus.
      const auto at = std::ranges::lower_bound(groups, w.group);
      if (at == groups.end() || *at != w.group) return false;  // arrived since: next round
      const auto& state = states[at - groups.begin()];
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

ShardedEventAcks::ShardedEventAcks(RedisClient& client, EventAcksOptions options,
                                   const KeyLayout& layout)
    : shard_of_(layout.groups(), 0) {
  std::vector<std::vector<std::size_t>> shards{{}};
  if (layout.clustered()) {
    try {
      shards = GroupsByShard(client, layout);
    } catch (const core::StoreUnavailable&) {  // every group on one thread, as on one shard
    }
  }
  for (std::size_t i = 0; i < shards.size(); ++i) {
    for (std::size_t g : shards[i]) shard_of_[g] = i;
    shards_.push_back(std::make_unique<RedisEventAcks>(client, options, layout));
  }
}

void ShardedEventAcks::Await(std::string position, std::function<void(bool durable)> done) {
  const auto group = PositionGroup(position);
  // A position naming no group of the layout is answered false by any of them.
  const std::size_t shard = group && *group < shard_of_.size() ? shard_of_[*group] : 0;
  shards_[shard]->Await(std::move(position), std::move(done));
}

std::size_t ShardedEventAcks::Waiting() {
  std::size_t n = 0;
  for (auto& shard : shards_) n += shard->Waiting();
  return n;
}

}  // namespace count::redis
