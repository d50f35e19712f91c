#pragma once
// core::EventAcks on Redis: follows the record the relay leader writes after each batch the
// bus acknowledged (kPublishedKey: every event from base to last is in Kafka) and answers the
// writes that wait for it (WRITE_ACK=kafka).
//
// One thread per process reads the record while writes wait (every `poll`) and sleeps
// otherwise; answers are handed to their callbacks, which post them to their event loop, so
// no loop thread ever blocks. Polling keeps it on the ordinary client (pool, Sentinel,
// reconnects) where a subscription would need a connection of its own to keep alive.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/event.hpp"
#include "redis/key_layout.hpp"
#include "redis/redis_client.hpp"

namespace count::redis {

// A stream id "<ms>-<seq>" as two numbers (they order as the stream does); nullopt when the
// text is not one.
using StreamId = std::pair<std::uint64_t, std::uint64_t>;
std::optional<StreamId> ParseStreamId(std::string_view text);

// An outbox position as the apply script returns it: "<epoch>/<stream id>" (on a Redis Cluster
// behind "<group>@", redis_replica_acks.hpp's PositionGroup). Stream ids of a wiped and
// recreated stream can repeat the old ones; the epoch (kEventEpoch) tells them apart.
// The tag group an outbox position names: "<group>@..." on a Redis Cluster
// (RedisCountValueStore), 0 without the prefix; nullopt when the group is not a number.
std::optional<std::size_t> PositionGroup(std::string_view position);

struct OutboxPosition {
  std::string epoch;
  StreamId id;
};
std::optional<OutboxPosition> ParsePosition(std::string_view text);

struct EventAcksOptions {
  std::chrono::milliseconds wait{5000};  // longest wait for the bus (WRITE_ACK_TIMEOUT_MS)
  std::chrono::milliseconds poll{1};     // how often the record is read while writes wait
};

class RedisEventAcks final : public core::EventAcks {
 public:
  // On a Redis Cluster (`layout` clustered) a position names its tag group ("<group>@...",
  // RedisCountValueStore) and is followed in that group's record; the records of the groups
  // that writes wait on are read in one pipeline (one round trip per shard).
  RedisEventAcks(RedisClient& client, EventAcksOptions options,
                 const KeyLayout& layout = KeyLayout::Single());
  ~RedisEventAcks() override;  // answers every waiting write with false
  RedisEventAcks(const RedisEventAcks&) = delete;
  RedisEventAcks& operator=(const RedisEventAcks&) = delete;

  void Await(std::string position, std::function<void(bool durable)> done) override;
  std::size_t Waiting();  // for metrics

 private:
  struct Waiter {
    std::size_t group;
    OutboxPosition position;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(bool)> done;
  };
  void Run();
  // Each group's record and stream epoch now; nullopt where Redis did not answer.
  struct Record {
    std::string epoch;
    StreamId base, last;
  };
  struct State {
    std::optional<Record> record;  // none yet
    std::string epoch;             // '' when the stream has none (wiped since)
  };
  std::vector<std::optional<State>> Read(const std::vector<std::size_t>& groups);

  RedisClient& client_;
  const KeyLayout layout_;
  const EventAcksOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<Waiter> waiting_;
  std::thread thread_;
};

// WRITE_ACK=kafka's wait on a Redis Cluster: a RedisEventAcks per primary (its groups now,
// GroupsByShard), so the records a round reads are on one shard, and a dead primary (whose
// calls fail only after the client's timeout) delays only the answers of its own shard's
// writes. One server: one RedisEventAcks.
class ShardedEventAcks final : public core::EventAcks {
 public:
  ShardedEventAcks(RedisClient& client, EventAcksOptions options,
                   const KeyLayout& layout = KeyLayout::Single());
  void Await(std::string position, std::function<void(bool durable)> done) override;
  std::size_t Waiting();  // for metrics

 private:
  std::vector<std::size_t> shard_of_;  // per group
  std::vector<std::unique_ptr<RedisEventAcks>> shards_;
};

}  // namespace count::redis
