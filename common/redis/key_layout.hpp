#pragma once
// Where the value store's keys live (docs/ARCHITECTURE.md, "Redis Cluster"). On one server
// (REDIS_URL, Sentinel) the names are fixed: `count:{<id>}`, `idem:<key>`, the outbox
// `count-events` with `:size`, `:epoch`, `:published`, `:relay`. On a Redis Cluster a script may
// touch keys of one hash slot only, so counters are divided into `groups` tag groups: a counter,
// the idempotency records written with it and the outbox its events go to all carry their
// group's hash tag, and each group is one slot — one atomic script on one shard.
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace count::redis {

class KeyLayout {
 public:
  static constexpr std::size_t kDefaultGroups = 60;
  static constexpr std::size_t kMaxGroups = 1024;

  // Today's names: one group, no tag.
  static KeyLayout Single() { return KeyLayout(); }
  // `groups` tag groups (1..kMaxGroups); throws std::invalid_argument.
  static KeyLayout Cluster(std::size_t groups = kDefaultGroups);

  bool clustered() const { return !tags_.empty(); }
  std::size_t groups() const { return clustered() ? tags_.size() : 1; }
  // The group of a counter: the slot of its id scaled to the groups, slot × groups / 16384
  // (0 on one server); of a sub-counter `<id>#<i>`, its group as SubCounters() says.
  std::size_t GroupOf(std::string_view count_id) const;
  // Group g's hash tag: the shortest "g<n>" whose slot is in the g-th of `groups` equal slot
  // ranges, so groups divide evenly among primaries that hold equal ranges. Empty on one
  // server.
  const std::string& Tag(std::size_t group) const;

  // A sharded counter (docs/API.md, "Hot counters") keeps its information and initial value in
  // its own key and takes increments in SubCounters() sub-counters `<id>#<i>` ('#' is in no
  // count id): sub-counter i is in group (g + i·G/N) mod G of its counter's group g, so the N
  // fall on different shards. None on one server, where there is one shard to spread over.
  static constexpr std::size_t kSubCounters = 6;
  std::size_t SubCounters() const { return clustered() ? std::min(kSubCounters, groups()) : 0; }
  static std::string SubCounterId(std::string_view count_id, std::size_t i);
  // The counter a (sub-)counter id belongs to: the id up to '#'.
  static std::string_view BaseId(std::string_view id) { return id.substr(0, id.find('#')); }

  // The key of a counter, or of a sub-counter `<id>#<i>`.
  std::string Counter(std::string_view count_id) const;
  std::string Idempotency(std::size_t group, std::string_view key) const;
  // The outbox stream of group g; its count, epoch, record and lease are the stream's name
  // with ":size", ":epoch", ":published" and ":relay" (same tag, same slot).
  std::string Stream(std::size_t group) const;
  // A SCAN MATCH pattern for every counter key.
  std::string CounterPattern() const;

  // What decides where keys live, as stored in the key kLayoutKey of a Redis Cluster:
  // "groups=60 sub-counters=6" (empty on one server, whose names are fixed).
  std::string Description() const;
  static constexpr std::string_view kLayoutKey = "count-layout";

 private:
  KeyLayout() = default;
  std::vector<std::string> tags_;  // empty: one server
};

}  // namespace count::redis
