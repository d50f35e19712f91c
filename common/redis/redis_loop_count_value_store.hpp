#pragma once
// core::AsyncCountValueStore on Redis, for the request path: each event loop's calls go out
// on that loop's own connection (redis_connection.hpp), and the Apply calls that arrive while
// the loop's script call is in flight go out together as its next one (core::LoopGroupCommit):
// one EVALSHA for many requests, each still getting its own answer, idempotency record and
// event. Command and reply are RedisCountValueStore's (one rule, two ways to send it); its
// other calls (create, update, delete, which involve PostgreSQL anyway) stay blocking.
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/ports.hpp"
#include "redis/redis_connection.hpp"
#include "redis/redis_count_value_store.hpp"

namespace count::redis {

class RedisLoopCountValueStore : public core::AsyncCountValueStore {
 public:
  RedisLoopCountValueStore(RedisCountValueStore& store, RedisLoopClient& redis);
  ~RedisLoopCountValueStore() override;

  // More than RedisCountValueStore::kMaxBatch mutations: std::invalid_argument, through done.
  void Apply(std::span<const core::Mutation> mutations, const core::IdempotencyKey* key,
             Done<core::ApplyResult> done) override;
  void Get(std::string_view id, Done<std::optional<core::CountRecord>> done) override;
  void GetMany(std::span<const std::string> ids,
               Done<std::vector<std::optional<core::CountRecord>>> done) override;

 private:
  struct Pending;
  struct Lane;  // one per loop: its connection and its group commit
  Lane& Here();
  // Routes `pending` (RedisCountValueStore::Route) and queues it on its group's commit, or
  // splits it when its counters are in several groups.
  void Submit(std::unique_ptr<Pending> pending);
  void ApplySplit(std::span<const core::Mutation> mutations, const core::IdempotencyKey* key,
                  Done<core::ApplyResult> done);
  void Send(Lane& lane, std::vector<Pending*> batch, std::function<void()> finished, bool whole);
  // Answers the requests of a script call, with the sums of the sharded counters they changed
  // (read once for the batch); sends again those to be routed anew.
  void Finish(std::vector<Pending*> batch);
  // Reads the sums of sharded counters (RedisCountValueStore::SumReads), in one pipeline.
  void ReadSums(std::vector<std::string> ids,
                Done<std::vector<std::optional<core::CountRecord>>> done);

  RedisCountValueStore& store_;
  RedisLoopClient& redis_;
  const std::uint64_t id_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Lane>> lanes_;
};

}  // namespace count::redis
