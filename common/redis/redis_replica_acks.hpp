#pragma once
// core::EventAcks by Redis replication (WRITE_ACK=replica): a write is answered once a replica
// of its shard's primary holds it, so a primary killed after the answer loses nothing that was
// answered — the replica that takes over has it (docs/FAULTS.md, scenario h).
//
// Redis's WAIT answers for the writes made before it on its own connection, and its offset is
// the primary's replication offset after that connection's last write. So for the writes that
// wait, one thread sends per tag group, on its own client, a small write to the group's slot
// (SET `<stream>:fence`) and WAIT right behind it (the cluster client sends a command without
// a key to the node of the one before it): every write the primary had applied before, by any
// connection, is then on a replica. One WAIT answers every write of the group waiting then.
//
// The client must be this class's own: WAIT blocks its connection until a replica answers.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/event.hpp"
#include "redis/key_layout.hpp"
#include "redis/redis_client.hpp"

namespace count::redis {

// The tag group an outbox position names: "<group>@..." on a Redis Cluster
// (RedisCountValueStore), 0 without the prefix; nullopt when the group is not a number.
std::optional<std::size_t> PositionGroup(std::string_view position);

struct ReplicaAcksOptions {
  std::chrono::milliseconds wait{5000};  // longest wait for a replica (WRITE_ACK_TIMEOUT_MS)
  int replicas = 1;                      // how many replicas must hold a write
};

class RedisReplicaAcks final : public core::EventAcks {
 public:
  RedisReplicaAcks(RedisClient& client, const KeyLayout& layout, ReplicaAcksOptions options);
  ~RedisReplicaAcks() override;  // answers every waiting write with false
  RedisReplicaAcks(const RedisReplicaAcks&) = delete;
  RedisReplicaAcks& operator=(const RedisReplicaAcks&) = delete;

  void Await(std::string position, std::function<void(bool durable)> done) override;
  std::size_t Waiting();  // for metrics

 private:
  struct Waiter {
    std::size_t group;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(bool)> done;
  };
  void Run();
  // Fences and WAITs for each group in `groups` (one pipeline); the replicas that acknowledged
  // each, -1 where Redis did not answer.
  std::vector<long long> Replicate(const std::vector<std::size_t>& groups,
                                   std::chrono::milliseconds wait);

  RedisClient& client_;
  const KeyLayout& layout_;
  const ReplicaAcksOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<Waiter> waiting_;
  std::thread thread_;
};

}  // namespace count::redis
