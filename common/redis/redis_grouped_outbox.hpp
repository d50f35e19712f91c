#pragma once
// The outbox on a Redis Cluster: one stream per tag group (key_layout.hpp), each with its own
// relay lease, so each stream has one leader and a counter's events (all in its group's
// stream) reach the bus in the order they were applied. This process relays every group whose
// lease it holds or can take, one group's batch at a time, taking the groups in turn. It reads
// ahead as each group's RedisEventOutbox does: batches are acknowledged in the order they were
// handed out, each in its group, and Rewind rewinds every group. A process relays the groups
// of each shard with an outbox (and relay thread) of their own (GroupsByShard), so a shard
// that does not answer stalls only its own groups.
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/event.hpp"
#include "redis/key_layout.hpp"
#include "redis/redis_client.hpp"
#include "redis/redis_outbox.hpp"

namespace count::redis {

class RedisGroupedOutbox final : public core::EventOutbox {
 public:
  // `groups`: the groups this outbox relays (their indexes in `layout`); every group when empty.
  RedisGroupedOutbox(RedisClient& client, const std::string& owner, const KeyLayout& layout,
                     std::chrono::milliseconds lease = std::chrono::seconds(10),
                     std::span<const std::size_t> groups = {});
  // The next group (after the last one read) that holds events and that this process leads:
  // every stream's length in one pipeline (one round trip per shard), then the lease and the
  // read of the groups that hold events only, so an idle relay costs G XLENs a poll.
  std::vector<core::Event> Pending(std::size_t max) override;
  // Forgets the oldest batch handed out, in its group.
  void Acknowledge(std::span<const core::Event> events) override;
  bool ReadsAhead() const override { return true; }
  void Rewind() override;
  std::size_t Backlog() override;  // its groups', read in one pipeline
  void Wait(std::chrono::milliseconds max) override;
  void Release();  // every lease this process holds

 private:
  RedisClient& client_;
  std::vector<std::string> streams_;
  std::vector<std::unique_ptr<RedisEventOutbox>> groups_;
  std::size_t next_ = 0;            // the group Pending asks first
  std::deque<std::size_t> handed_;  // the group of each batch handed out, oldest first
};

// The groups of `layout` by the primary that serves them now (CLUSTER SLOTS), one list per
// primary in the order of the groups; throws core::StoreUnavailable. A failover keeps the lists
// (the promoted replica serves the same slots); a resharding mixes them until the next start,
// which costs only the isolation of the shards' relaying, never its order.
std::vector<std::vector<std::size_t>> GroupsByShard(RedisClient& client, const KeyLayout& layout);

}  // namespace count::redis
