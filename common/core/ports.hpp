#pragma once
// Ports: what the use cases need from storage. Adapters live beside `core/` in
// `common/sqlite`, `common/redis` and `common/postgres`, named by technology.
//
// Error policy: a refusal the client caused is a return value; an infrastructure
// failure (connection lost, timeout, server error) throws StoreUnavailable, which the
// HTTP layer answers with 503 and which never changes data half-way.
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/count.hpp"

namespace count::core {

struct StoreUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A request that a value store had to split into parts (a Redis Cluster: its counters on
// several shards, which no one atomic step can change together), some of which were carried
// out and others not. `applied`: the indexes (ascending) of the mutations whose part was
// carried out, each with its usual outcome (a refused one changed nothing). `key_reused`: the
// other parts found the request's Idempotency-Key recorded for a different request and changed
// nothing; otherwise they failed as StoreUnavailable does (each part applied entirely or not
// at all; whether one whose shard stopped answering mid-call was cannot be told), and a repeat
// with the same key completes the request. what(): the detail for the client.
struct PartlyApplied : std::runtime_error {
  PartlyApplied(std::vector<std::size_t> applied, bool key_reused, const std::string& detail)
      : std::runtime_error(detail), applied(std::move(applied)), key_reused(key_reused) {}
  std::vector<std::size_t> applied;
  bool key_reused;
};

// An Idempotency-Key as the store records it. `key` is already namespaced by the caller
// (API key name + header value); `fingerprint` identifies the request (method, path, body).
struct IdempotencyKey {
  std::string key;
  std::string fingerprint;
};

inline constexpr std::int64_t kIdempotencyTtlSeconds = 24 * 60 * 60;

struct ApplyResult {
  enum class Status {
    kApplied,   // the mutations were applied now (each independently)
    kReplayed,  // the key was seen with the same fingerprint: the first outcomes, nothing changed
    kKeyConflict,  // the key was seen with another fingerprint: nothing changed, no outcomes
  };
  Status status = Status::kApplied;
  std::vector<MutationOutcome> outcomes;  // one per mutation, in order
  // Where the request's last event stands in the store's outbox ('' when it made none or the
  // store has no outbox); a replay gives the first call's. WRITE_ACK=kafka waits until the
  // bus has acknowledged the outbox up to here (core::EventAcks).
  std::string position;
};

// Values and the information served with them. Authoritative for values; a copy of
// description and bounds is kept here so a write or a read needs one round trip.
class CountValueStore {
 public:
  virtual ~CountValueStore() = default;

  // Applies each mutation atomically and independently of the others; the
  // idempotency record (when `key` is set) is written in the same atomic step as the
  // mutations, and only when at least one mutation was applied. A store that keeps the
  // counters of one request on several shards applies it in one atomic step per shard and
  // throws PartlyApplied when some of those steps were carried out and others not. A
  // mutation of an unknown id is refused (kNotFound): counters are created by Create only
  // (app::CounterLifecycle).
  // The rule every implementation obeys is the contract suite
  // common/testing/count_value_store_contract.hpp.
  virtual ApplyResult Apply(std::span<const Mutation> mutations, const IdempotencyKey* key) = 0;

  virtual std::optional<CountRecord> Get(std::string_view id) = 0;
  // One entry per id, in order; nullopt for an unknown id.
  virtual std::vector<std::optional<CountRecord>> GetMany(std::span<const std::string> ids) = 0;

  // false when the id exists already.
  virtual bool Create(const CountInfo& info, std::int64_t initial_value) = 0;

  enum class UpdateResult { kUpdated, kNotFound, kValueOutsideBounds };
  // Replaces description and bounds (and updated_at); refused when the current value lies
  // outside the new bounds.
  virtual UpdateResult UpdateInfo(const CountInfo& info) = 0;

  // false when the id does not exist. With `purge_history`, its deleted event says the
  // history goes too.
  virtual bool Delete(std::string_view id, bool purge_history) = 0;

  // Whether the store answers now (readiness).
  virtual bool Ping() = 0;
};

// The value store's request-path calls without a blocked thread: each answers through a
// callback, on the event loop of the caller. Core knows no event-loop library: a callback is
// what any loop can resume on (the HTTP bindings turn it into http::Respond), where a
// coroutine type would tie every port and use case to Asio. A store that can only block has
// no such adapter; the bindings then call its CountValueStore on the blocking pool.
class AsyncCountValueStore {
 public:
  template <class T>
  using Done = std::function<void(std::exception_ptr error, T result)>;
  virtual ~AsyncCountValueStore() = default;

  // As CountValueStore::Apply; `mutations` and `key` live until `done` has run.
  virtual void Apply(std::span<const Mutation> mutations, const IdempotencyKey* key,
                     Done<ApplyResult> done) = 0;
  virtual void Get(std::string_view id, Done<std::optional<CountRecord>> done) = 0;
  // `ids` live until `done` has run.
  virtual void GetMany(std::span<const std::string> ids,
                       Done<std::vector<std::optional<CountRecord>>> done) = 0;
};

struct CountPage {
  std::vector<CountInfo> items;
  std::optional<std::string> next_cursor;  // the last id of this page, when more follow
};

// The system of record for counter information (CountInfoDB).
class CountInfoStore {
 public:
  virtual ~CountInfoStore() = default;
  virtual bool Create(const CountInfo& info) = 0;  // false: the id exists
  virtual std::optional<CountInfo> Get(std::string_view id) = 0;
  // Ids starting with `prefix`, ordered by id, strictly after `after_id` when not empty.
  virtual CountPage List(std::string_view prefix, std::size_t limit, std::string_view after_id) = 0;
  virtual bool Update(const CountInfo& info) = 0;  // false: not found
  virtual bool Delete(std::string_view id) = 0;    // false: not found
  virtual bool Ping() = 0;
};

// Results that are costly to compute and may be served a little stale, shared by a service's
// replicas (the Redis cache tier, REDIS_CACHE_URL). A cache that fails is a miss: callers
// compute instead, so the cache is never needed for an answer.
class ResultCache {
 public:
  virtual ~ResultCache() = default;
  virtual std::optional<std::string> Get(std::string_view key) = 0;
  virtual void Put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) = 0;
};

}  // namespace count::core
