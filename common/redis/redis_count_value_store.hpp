#pragma once
// CountValueStore on Redis. One hash per counter, key `count:{<id>}` (on a Redis Cluster
// `count:{<group tag>}:<id>`, key_layout.hpp):
//   v  value (decimal string)     u  updatedAt (epoch ms)     c  createdAt (epoch ms)
//   d  description                mn / mx  bounds (absent when unbounded)
// Every mutation is one server-side Lua script (scripts/*.lua, embedded at build), so a write and
// its idempotency record
// (`idem:<key>`, a hash of fingerprint and outcomes, expiring after 24 h) are atomic.
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "core/group_commit.hpp"
#include "core/ports.hpp"
#include "redis/key_layout.hpp"
#include "redis/lua_script.hpp"
#include "redis/redis_client.hpp"

namespace count::redis {

// The transactional outbox: every script that changes a counter also appends its event
// to this stream, atomically; RedisEventOutbox hands them to the bus.
inline constexpr std::string_view kEventStream = "count-events";
// The stream's lineage (scripts/apply.lua): gone with the stream when Redis is wiped, and
// different afterwards, so an outbox position of the old stream never matches the new one.
inline constexpr std::string_view kEventEpoch = "count-events:epoch";

struct OutboxOptions {
  std::string source = "count-system";  // the service named in the events
  // Writes are refused (StoreUnavailable → 503) while this many events wait, so a long
  // bus outage cannot exhaust Redis memory; nothing is ever dropped silently.
  std::size_t max_backlog = 1'000'000;
};

class RedisCountValueStore : public core::CountValueStore {
 public:
  static constexpr std::size_t kMaxBatch = 1000;

  // `clock` supplies the timestamps the scripts store (passed in, so results are
  // deterministic and testable).
  // `layout`: where the keys live (KeyLayout::Cluster() on a Redis Cluster).
  explicit RedisCountValueStore(RedisClient& client,
                                std::function<core::Timestamp()> clock = core::Now,
                                OutboxOptions outbox = {}, KeyLayout layout = KeyLayout::Single());

  // Throws std::invalid_argument for more than kMaxBatch mutations. On a Redis Cluster, the
  // mutations of counters in different groups are applied one group after the other, one
  // script each, and answered as one (group_parts.hpp: core::PartlyApplied when some groups
  // were carried out and others not).
  core::ApplyResult Apply(std::span<const core::Mutation> mutations,
                          const core::IdempotencyKey* key) override;
  std::optional<core::CountRecord> Get(std::string_view id) override;
  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override;
  bool Create(const core::CountInfo& info, std::int64_t initial_value) override;
  UpdateResult UpdateInfo(const core::CountInfo& info) override;
  bool Delete(std::string_view id, bool purge_history) override;
  // Whether the server answers; on a Redis Cluster, whether the shard of every group does.
  bool Ping() override;

  // Puts back a counter rebuilt after Redis was lost, with `value` and `info`, without an
  // event (count-analysis-service rebuild-values). False when the counter exists.
  bool Restore(const core::CountInfo& info, std::int64_t value);
  // Whether any counter is stored (`count:{*}` keys), whatever else Redis holds.
  bool HoldsCounters();

  std::string KeyOf(std::string_view id) const { return layout_.Counter(id); }
  const KeyLayout& layout() const { return layout_; }
  // The group of a request's counters; nullopt when they are in several (a Redis Cluster's
  // tag groups; always 0 on one server).
  std::optional<std::size_t> GroupOf(std::span<const core::Mutation> mutations) const;

  // One Apply call of a group commit's batch, which goes out as one script call. Shared with
  // RedisLoopCountValueStore (the same rule on an event loop's connection).
  struct ApplyRequest {
    std::span<const core::Mutation> mutations;
    const core::IdempotencyKey* key;
    std::size_t group;  // GroupOf(mutations), found once when the request arrives
    core::ApplyResult result;
    std::exception_ptr error;
  };
  // The apply script's command for `batch`, whose requests are all of one group (`whole`: EVAL,
  // after a NOSCRIPT reply).
  std::vector<std::string> ApplyCommand(std::span<ApplyRequest* const> batch, bool whole) const;
  // Records each request's result, or its error (all of them for an error reply).
  void ReadApplyReply(std::span<ApplyRequest* const> batch, const Reply& reply) const;
  // A counter from its HGETALL reply; nullopt when absent. Throws core::StoreUnavailable.
  static std::optional<core::CountRecord> ToRecord(std::string_view id, const Reply& reply);

 private:
  std::int64_t NowMs() const;
  ScriptArgs CounterArgs(const core::CountInfo& info, std::int64_t value) const;
  std::pair<std::vector<std::string>, ScriptArgs> ApplyKeysAndArgs(
      std::span<ApplyRequest* const> batch) const;
  // Runs the apply script for a batch of one group.
  void ApplyGroup(std::span<ApplyRequest* const> batch);
  // One request's part of the apply script's flat answer.
  core::ApplyResult ToResult(const ApplyRequest& request, std::span<const Reply> reply) const;

  RedisClient& client_;
  std::function<core::Timestamp()> clock_;
  OutboxOptions outbox_;
  KeyLayout layout_;
  LuaScript apply_;
  LuaScript create_;
  LuaScript update_info_;
  LuaScript delete_;
  LuaScript restore_;
  // Concurrent Apply calls go out together as one script call (core/group_commit.hpp).
  core::GroupCommit<ApplyRequest> group_{kMaxBatch};
};

}  // namespace count::redis
