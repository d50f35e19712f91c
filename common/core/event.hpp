#pragma once
// Events (docs/ARCHITECTURE.md, "Events and what happens while Kafka is down"): one per applied
// change, keyed by count id so one counter's events stay ordered. Carried on Kafka topic
// `count-updates`, or the in-process bus standalone.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/count.hpp"
#include "core/trace.hpp"

namespace count::core {

inline constexpr std::string_view kEventTopic = "count-updates";

enum class EventType { kCreated, kUpdated, kDeleted };
std::string_view ToString(EventType type);  // "count_created", "count_updated", "count_deleted"
std::optional<EventType> ParseEventType(std::string_view text);

struct Event {
  std::string event_id;  // unique (128 random bits, hex)
  EventType type = EventType::kUpdated;
  std::string count_id;
  // value after - value before, when it fits int64: increments, decrements and sets;
  // a created event carries its initial value, a deleted event the negated last value.
  std::optional<std::int64_t> delta;
  std::int64_t value = 0;  // the new absolute value (the last value for a deleted event)
  Timestamp timestamp{};
  std::string source;  // the service that applied the change
  // A deleted event only: the counter's history goes with it (DELETE ?purgeHistory=true);
  // the history store forgets it when it records this event (docs/ARCHITECTURE.md).
  bool purge_history = false;
  // The trace of the request that made the change (not valid when none): stored in the
  // outbox with the event, sent as the Kafka header `traceparent`, not in the JSON body.
  TraceContext trace;
  // Set on every event of a sharded counter with sub-counters (on a Redis Cluster; docs/API.md,
  // "Hot counters"): the part it changed, sub-counter i (0 <= i) or kOwnKey, the counter's own
  // key (its creation, a description change, its deletion). The `value` of an update is then
  // that part's, not the counter's; `delta` is exact, so the counter's value is the sum of its
  // events' deltas. Absent: `value` is the counter's.
  std::optional<int> sub_counter;
  static constexpr int kOwnKey = -1;
};

std::string NewEventId();  // 32 hex digits: a UUIDv7 (ms time, then CSPRNG bits)

// {"eventId","type","countId","delta","value","timestamp","source","purgeHistory",
// "subCounter"}; delta and subCounter omitted when absent, purgeHistory when false.
std::string ToJson(const Event& e);
// nullopt for anything that is not a well-formed event.
std::optional<Event> EventFromJson(std::string_view json);

// Receives events; implemented by the Kafka producer and by the in-process bus.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  // Returns once every event is acknowledged by the bus (Kafka: acks=all); throws
  // StoreUnavailable when it cannot be, so the caller keeps them for a retry.
  virtual void Publish(std::span<const Event> events) = 0;
};

// Events recorded atomically with the change they describe (a transactional outbox in
// the value store), waiting to be published.
class EventOutbox {
 public:
  virtual ~EventOutbox() = default;
  // The oldest unpublished events, at most `max`, in the order they were recorded.
  virtual std::vector<Event> Pending(std::size_t max) = 0;
  // Forgets published events.
  virtual void Acknowledge(std::span<const Event> events) = 0;
  // How many events wait (for metrics and back-pressure).
  virtual std::size_t Backlog() = 0;
  // Returns when new events may be pending, or after `max`.
  virtual void Wait(std::chrono::milliseconds max) = 0;

  // Reading ahead (events::OutboxRelay keeps the next batch read while the bus takes the
  // previous one). An outbox that reads ahead returns from Pending the oldest events not yet
  // handed out, so a second call before Acknowledge returns the batch after the first;
  // Acknowledge then forgets the oldest batch handed out (batches are acknowledged in the
  // order they were read), and Rewind hands every unacknowledged event out again (after a
  // failed publish). One that does not always returns from the oldest unacknowledged event.
  virtual bool ReadsAhead() const { return false; }
  virtual void Rewind() {}
};

// When the bus has acknowledged the outbox up to a position (core::ApplyResult::position):
// with WRITE_ACK=kafka a write is answered only then, so an acknowledged change survives the
// loss of the value store (docs/OPERATIONS.md, "Rebuilding the values").
class EventAcks {
 public:
  virtual ~EventAcks() = default;
  // Calls `done(true)` once the bus has acknowledged every event up to `position`, or
  // `done(false)` when that is not known within the configured wait (the bus is away, or the
  // outbox was lost before its events were published). `done` may run on another thread and
  // must not block.
  virtual void Await(std::string position, std::function<void(bool durable)> done) = 0;
};

// Durable once `first` says so and then `second` (WRITE_ACK=kafka on a Redis Cluster: a
// replica holds the change, then Kafka its event; docs/ARCHITECTURE.md, "Redis Cluster").
class AcksInTurn final : public EventAcks {
 public:
  AcksInTurn(EventAcks& first, EventAcks& second) : first_(first), second_(second) {}
  void Await(std::string position, std::function<void(bool durable)> done) override {
    first_.Await(position, [this, position, done = std::move(done)](bool durable) mutable {
      if (!durable) return done(false);
      second_.Await(std::move(position), std::move(done));
    });
  }

 private:
  EventAcks& first_;
  EventAcks& second_;
};

// A position of several parts separated by spaces (a batch split over a Redis Cluster's tag
// groups, redis/group_parts.hpp) is durable once every part is, each awaited on `acks` on its
// own; a position of one part goes straight through.
class AcksOfEachPart final : public EventAcks {
 public:
  explicit AcksOfEachPart(EventAcks& acks) : acks_(acks) {}
  void Await(std::string position, std::function<void(bool durable)> done) override;

 private:
  EventAcks& acks_;
};

}  // namespace count::core
