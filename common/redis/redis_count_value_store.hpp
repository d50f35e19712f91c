#pragma once
// CountValueStore on Redis. One hash per counter, key `count:{<id>}` (on a Redis Cluster
// `count:{<group tag>}:<id>`, key_layout.hpp):
//   v  value (decimal string)     u  updatedAt (epoch ms)     c  createdAt (epoch ms)
//   d  description                mn / mx  bounds (absent when unbounded)
//   sh a sharded counter's number of sub-counters (absent when not sharded; docs/API.md,
//      "Hot counters"): on a Redis Cluster its increments go to sub-counters `<id>#<i>` on other
//      shards (key_layout.hpp), each a hash of v, u and c, and its value is the sum.
// Every mutation is one server-side Lua script (scripts/*.lua, embedded at build), so a write and
// its idempotency record
// (`idem:<key>`, a hash of fingerprint and outcomes, expiring after 24 h) are atomic.
#include <algorithm>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
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
  // bus outage cannot exhaust Redis memory; nothing is ever dropped silently. On a Redis
  // Cluster each of the G groups' streams holds its share, max_backlog / G (at least 1): the
  // total stays within max_backlog whenever it is at least G (GroupBacklog).
  std::size_t max_backlog = 1'000'000;
};

// The events one group's stream may hold: an equal share of `max_backlog`, at least 1 (a group
// with no room could take no write at all).
constexpr std::size_t GroupBacklog(std::size_t max_backlog, std::size_t groups) {
  return std::max<std::size_t>(1, max_backlog / groups);
}

class RedisCountValueStore : public core::CountValueStore {
 public:
  static constexpr std::size_t kMaxBatch = 1000;
  static constexpr int kMaxAttempts = 3;

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
  // Whether any counter is stored (`count:{*}` keys), whatever else Redis holds; on a Redis
  // Cluster, on any primary.
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
    // The request as sent when it changes sharded counters: their increments and decrements
    // go to sub-counters (`mutations` then points here).
    std::vector<core::Mutation> routed;
    // To be routed and sent again, having changed nothing: the script found a sharded counter
    // the store did not know of (status 'sharded'), or a sub-counter is gone (the counter was
    // deleted, perhaps created again unsharded), which the store then forgets.
    bool again = false;
    int attempt = 0;  // sends so far; a request is sent at most kMaxAttempts times
  };
  // Routes `request`'s mutations (above) and finds its group; false when they span groups.
  bool Route(ApplyRequest& request);
  // The sharded counters a request changed through sub-counters (their ids, once each), whose
  // answers are to carry their sum (SumReads/SumOf), not the sub-counter's value.
  static std::vector<std::string> RoutedCounters(const ApplyRequest& request);
  // The commands reading a counter with its sub-counters (HGETALL, then an HMGET per
  // sub-counter), and the counter they give: its value is the sum.
  std::vector<std::vector<std::string>> SumReads(std::string_view id) const;
  static std::optional<core::CountRecord> SumOf(std::string_view id, std::span<const Reply> r);
  // Puts each sharded counter's sum in the answers that name it.
  static void SetSums(core::ApplyResult& result, const std::vector<core::CountRecord>& sums);
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
  // A sharded counter's sub-counters, at 0, after its key was written (Create, Restore).
  void CreateSubCounters(const core::CountInfo& info);
  std::pair<std::vector<std::string>, ScriptArgs> ApplyKeysAndArgs(
      std::span<ApplyRequest* const> batch) const;
  // Runs the apply script for a batch of one group.
  void ApplyGroup(std::span<ApplyRequest* const> batch);
  // One request's part of the apply script's flat answer.
  core::ApplyResult ToResult(ApplyRequest& request, std::span<const Reply> reply) const;

  RedisClient& client_;
  std::function<core::Timestamp()> clock_;
  OutboxOptions outbox_;
  KeyLayout layout_;
  std::size_t group_backlog_;  // each group stream's share of outbox_.max_backlog
  LuaScript apply_;
  LuaScript create_;
  LuaScript update_info_;
  LuaScript delete_;
  LuaScript restore_;
  LuaScript take_;
  // Sharded counters learnt from the apply script's 'sharded' answers (their number of
  // sub-counters); a counter is created sharded or not and stays so.
  mutable std::mutex sharded_mu_;
  mutable std::unordered_map<std::string, std::size_t> sharded_;
  // Concurrent Apply calls go out together as one script call (core/group_commit.hpp).
  core::GroupCommit<ApplyRequest> group_{kMaxBatch};
};

// The key layout a Redis Cluster's keys were written with (docs/OPERATIONS.md, "The key layout
// of a Redis Cluster"): the first call stores `layout`'s (KeyLayout::Description) in
// KeyLayout::kLayoutKey; each later one compares. Returns the stored description when it is
// not `layout`'s, nullopt when it is (or was stored now; always on one server). Throws
// core::StoreUnavailable.
std::optional<std::string> StoredLayoutDiffers(RedisClient& client, const KeyLayout& layout);

}  // namespace count::redis
