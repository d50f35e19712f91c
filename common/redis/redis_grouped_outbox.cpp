#include "redis/redis_grouped_outbox.hpp"

namespace count::redis {

RedisGroupedOutbox::RedisGroupedOutbox(RedisClient& client, const std::string& owner,
                                       const KeyLayout& layout, std::chrono::milliseconds lease)
    : client_(client) {
  for (std::size_t g = 0; g < layout.groups(); ++g) {
    groups_.push_back(std::make_unique<RedisEventOutbox>(client, owner, lease, layout.Stream(g)));
    sizes_.push_back(layout.Stream(g) + ":size");
  }
}

std::vector<core::Event> RedisGroupedOutbox::Pending(std::size_t max) {
  // One lease and one read per group until one has events: polled in turn, since streams of
  // different slots cannot share one XREAD.
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    const std::size_t g = (next_ + i) % groups_.size();
    auto events = groups_[g]->Pending(max);
    if (events.empty()) continue;
    current_ = g;
    next_ = (g + 1) % groups_.size();
    return events;
  }
  return {};
}

void RedisGroupedOutbox::Acknowledge(std::span<const core::Event> events) {
  groups_[current_]->Acknowledge(events);
}

std::size_t RedisGroupedOutbox::Backlog() {
  std::vector<std::vector<std::string>> gets;
  for (const auto& key : sizes_) gets.push_back({"GET", key});
  std::size_t n = 0;
  for (const auto& r : client_.Pipeline(std::move(gets))) {
    if (r.IsError()) throw core::StoreUnavailable("redis: " + r.str);
    if (!r.IsNil()) n += std::stoull(r.str);
  }
  return n;
}

void RedisGroupedOutbox::Wait(std::chrono::milliseconds max) { groups_.front()->Wait(max); }

void RedisGroupedOutbox::Release() {
  for (auto& g : groups_) g->Release();
}

}  // namespace count::redis
