#pragma once
// Reads the event outbox: the Redis stream (`kEventStream`) that every RedisCountValueStore
// script appends its events to, atomically with the change (one entry per script call, its
// events counted in `kEventStream:size`; scripts/prelude.lua).
#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/event.hpp"
#include "core/ports.hpp"
#include "redis/lua_script.hpp"
#include "redis/redis_client.hpp"
#include "redis/redis_count_value_store.hpp"

namespace count::redis {

// How far the bus has acknowledged the outbox (scripts/trim.lua writes it).
inline constexpr std::string_view kPublishedKey = "count-events:published";

// Reads the stream the scripts append to. One relay at a time leads (a lease in Redis),
// so events of one counter reach the bus in the order they were applied. Acknowledge trims
// what was published and records how far that is (kPublishedKey, for WRITE_ACK=kafka).
// It reads ahead (core::EventOutbox::ReadsAhead): each Pending continues after the last entry
// handed out, Acknowledge trims the oldest batch handed out, and Rewind, a lost lease, or a
// stream that is no longer the one read (Redis wiped, or trimmed by another leader) starts
// over from the stream's start, where the oldest unacknowledged event is.
class RedisEventOutbox final : public core::EventOutbox {
 public:
  // `owner` identifies this process in the lease (e.g. the pod name).
  // `stream`: the outbox stream (its count, epoch, record and lease are its name with ":size",
  // ":epoch", ":published" and ":relay"; on a Redis Cluster one per tag group, key_layout.hpp).
  RedisEventOutbox(RedisClient& client, std::string owner,
                   std::chrono::milliseconds lease = std::chrono::seconds(10),
                   std::string stream = std::string(kEventStream));
  // Whole entries while their events stay within `max` (an entry larger than `max` comes
  // alone): a script call's events are published and forgotten together.
  std::vector<core::Event> Pending(std::size_t max) override;
  void Acknowledge(std::span<const core::Event> events) override;
  std::size_t Backlog() override;
  void Wait(std::chrono::milliseconds max) override;
  bool ReadsAhead() const override { return true; }
  void Rewind() override { batches_.clear(); }
  // Gives the lease up when this process holds it (at shutdown, after the last batch), so
  // another replica's relay leads within its next poll instead of after the lease: events,
  // and the writes that wait for them with WRITE_ACK=kafka, do not stall for it.
  void Release();

 private:
  RedisClient& client_;
  std::string owner_;
  std::chrono::milliseconds lease_;
  LuaScript lead_;
  LuaScript trim_;
  // A batch Pending handed out and not yet acknowledged: the stream ids of its first and
  // last entries, the event id that starts its last entry, how many entries and events.
  struct Batch {
    std::string first;
    std::string last;
    std::string last_event;
    std::size_t entries = 0;
    std::size_t events = 0;
  };
  std::deque<Batch> batches_;  // oldest first
  bool leading_ = false;       // the last lease call found this process leading
  // Events per entry in the entries read last, which sizes the next read (Pending); 0 until
  // the first read, which asks for at most kFirstRead entries.
  std::size_t events_per_entry_ = 0;
  static constexpr std::size_t kFirstRead = 64;
  const std::string stream_;
  std::string LeaseKey() const { return stream_ + ":relay"; }
  std::vector<std::string> LeaseArgs(std::chrono::milliseconds lease) const;
  // Takes or renews the lease and runs `range` (an XRANGE) in the same round trip while this
  // process leads; the range's reply, or nullopt when another process leads.
  std::optional<Reply> ReadLeading(std::vector<std::string> range);
};

}  // namespace count::redis
