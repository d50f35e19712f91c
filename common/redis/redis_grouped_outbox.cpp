#include "redis/redis_grouped_outbox.hpp"

#include <map>

#include "redis/cluster_slots.hpp"

namespace count::redis {

RedisGroupedOutbox::RedisGroupedOutbox(RedisClient& client, const std::string& owner,
                                       const KeyLayout& layout, std::chrono::milliseconds lease,
                                       std::span<const std::size_t> groups)
    : client_(client) {
  const auto add = [&](std::size_t g) {
    groups_.push_back(std::make_unique<RedisEventOutbox>(client, owner, lease, layout.Stream(g)));
    streams_.push_back(layout.Stream(g));
  };
  if (groups.empty())
    for (std::size_t g = 0; g < layout.groups(); ++g) add(g);
  for (std::size_t g : groups) add(g);
}

namespace {

// One command per group, pipelined; the integer each answers (0 for nil). Throws
// core::StoreUnavailable.
std::vector<std::size_t> PerGroup(RedisClient& client, const std::vector<std::string>& streams,
                                  const std::string& command, const std::string& suffix) {
  std::vector<std::vector<std::string>> commands;
  for (const auto& stream : streams) commands.push_back({command, stream + suffix});
  std::vector<std::size_t> out;
  for (const auto& r : client.Pipeline(std::move(commands))) {
    if (r.IsError()) throw core::StoreUnavailable("redis: " + r.str);
    out.push_back(r.type == Reply::Type::kInteger ? static_cast<std::size_t>(r.integer)
                  : r.IsNil()                     ? 0
                                                  : std::stoull(r.str));
  }
  return out;
}

}  // namespace

std::vector<core::Event> RedisGroupedOutbox::Pending(std::size_t max) {
  // Streams of different slots cannot share one XREAD: their lengths come in one pipeline.
  const auto entries = PerGroup(client_, streams_, "XLEN", "");
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    const std::size_t g = (next_ + i) % groups_.size();
    if (entries[g] == 0) continue;
    auto events = groups_[g]->Pending(max);
    if (events.empty()) continue;  // another process leads it, or all of it is in flight
    handed_.push_back(g);
    next_ = (g + 1) % groups_.size();
    return events;
  }
  return {};
}

void RedisGroupedOutbox::Acknowledge(std::span<const core::Event> events) {
  if (handed_.empty()) return;
  const std::size_t g = handed_.front();
  handed_.pop_front();
  groups_[g]->Acknowledge(events);
}

void RedisGroupedOutbox::Rewind() {
  handed_.clear();
  for (auto& g : groups_) g->Rewind();
}

std::size_t RedisGroupedOutbox::Backlog() {
  std::size_t n = 0;
  for (auto events : PerGroup(client_, streams_, "GET", ":size")) n += events;
  return n;
}

void RedisGroupedOutbox::Wait(std::chrono::milliseconds max) { groups_.front()->Wait(max); }

void RedisGroupedOutbox::Release() {
  handed_.clear();
  for (auto& g : groups_) g->Release();
}

std::vector<std::vector<std::size_t>> GroupsByShard(RedisClient& client, const KeyLayout& layout) {
  const Reply slots = client.Command({"CLUSTER", "SLOTS"});
  if (slots.IsError()) throw core::StoreUnavailable("redis: " + slots.str);
  // The routing's own reading of the table (no endpoint is connected to here).
  const auto map = SlotMap::FromClusterSlots(slots, RedisEndpoint{});
  if (!map) throw core::StoreUnavailable("redis cluster: the slot table leaves slots unserved");
  std::map<std::string, std::vector<std::size_t>> shards;  // by the primary's host:port
  for (std::size_t g = 0; g < layout.groups(); ++g) {
    const auto& primary = map->ShardOf(KeySlot(layout.Stream(g))).primary;
    shards[primary.host + ":" + std::to_string(primary.port)].push_back(g);
  }
  std::vector<std::vector<std::size_t>> out;
  for (auto& [primary, groups] : shards) out.push_back(std::move(groups));
  return out;
}

}  // namespace count::redis
