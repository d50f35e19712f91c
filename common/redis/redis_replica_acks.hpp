#pragma once
// core::EventAcks by Redis replication (WRITE_ACK=replica): a write is answered once a replica
// of its shard's primary holds it, so a primary killed after the answer loses nothing that was
// answered — the replica that takes over has it (docs/FAULTS.md, scenario h).
//
// Redis's WAIT answers for the writes made before it on its own connection, and its offset is
// the primary's replication offset after that connection's last write. So for the writes that
// wait, a small write to the group's slot (SET `<stream>:fence`) goes to the group's primary
// with WAIT right behind it (the cluster client sends a command without a key to the node of
// the one before it): every write the primary had applied before, by any connection, is then
// on a replica. One fence answers every write of its group waiting when it was sent.
//
// The fences run on an event loop of this class's own (WAIT blocks its connection until a
// replica answers), one in flight per group at a time, each group on its own: a shard that
// is down or has no replica delays only the writes of its own groups.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "redis/key_layout.hpp"
#include "redis/redis_client.hpp"
#include "redis/redis_event_acks.hpp"

namespace count::redis {

struct ReplicaAcksOptions {
  std::chrono::milliseconds wait{5000};  // longest wait for a replica (WRITE_ACK_TIMEOUT_MS)
  int replicas = 1;                      // how many replicas must hold a write
};

class RedisReplicaAcks final : public core::EventAcks {
 public:
  // `client`: where to connect (its endpoint, Sentinel or cluster) and its timeout.
  RedisReplicaAcks(RedisClient& client, const KeyLayout& layout, ReplicaAcksOptions options);
  ~RedisReplicaAcks() override;  // answers every waiting write with false
  RedisReplicaAcks(const RedisReplicaAcks&) = delete;
  RedisReplicaAcks& operator=(const RedisReplicaAcks&) = delete;

  void Await(std::string position, std::function<void(bool durable)> done) override;
  std::size_t Waiting() const { return waiting_.load(); }  // for metrics

 private:
  struct State;
  void Fence(std::size_t group);  // on the loop
  void Fenced(std::size_t group, bool durable, bool failed);

  const KeyLayout& layout_;
  const ReplicaAcksOptions options_;
  const std::chrono::milliseconds round_;  // the longest one WAIT blocks
  std::atomic<std::size_t> waiting_{0};
  std::unique_ptr<State> state_;
};

}  // namespace count::redis
