#pragma once
// UC-001's use cases: what a write does, in which store, in which order. The HTTP binding
// (write_api.cpp) parses a request into these calls and serialises what they return.
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "app/counter_lifecycle.hpp"
#include "core/event.hpp"
#include "core/ports.hpp"
#include "core/problem.hpp"

namespace count::write {

struct WriteOutcome {
  std::optional<core::Problem> problem;  // the request as a whole was refused; nothing changed
  core::ApplyResult result;              // otherwise: one outcome per mutation
};

class CountWrites {
 public:
  // `auto_create` (COUNT_AUTO_CREATE): a write may create the counters it names.
  // `loop_values`, when given, is the value store on the event loops (ApplyOnLoop).
  // `acks`, when given (WRITE_ACK=kafka), holds each applied change's answer until the bus
  // has acknowledged its event; when it has not within its wait, the answer is the
  // not-durable problem (the change stays applied, and a repeat with the same
  // Idempotency-Key gets the first answer once the event is durable).
  CountWrites(core::CountValueStore& values, core::CountInfoStore& info, bool auto_create,
              core::AsyncCountValueStore* loop_values = nullptr, core::EventAcks* acks = nullptr)
      : values_(values),
        info_(info),
        lifecycle_(info, values),
        auto_create_(auto_create),
        loop_values_(loop_values),
        acks_(acks) {}

  // Applies each mutation on its own, with the request's idempotency record, in one atomic
  // step of the value store, or, when its counters are on several shards (a Redis Cluster),
  // one atomic step per shard: when some of those were carried out and others not, the
  // answer is the applied-in-part problem naming the operations that were (or, when the
  // others found the Idempotency-Key used by another request, idempotency-key-reused naming
  // them); docs/API.md, "Batches on a Redis Cluster". With auto-create, unknown counters
  // are first created through app::CounterLifecycle (both stores or neither); then the
  // mutations apply as usual.
  WriteOutcome Apply(std::span<const core::Mutation> mutations, const core::IdempotencyKey* key);

  // A set that also replaces the description (PUT with "description"). The description is
  // changed first (both stores or neither); a set the value store then refuses puts the
  // previous description back, so a refused request changes nothing.
  WriteOutcome SetDescribed(const core::Mutation& set, std::string description,
                            const core::IdempotencyKey* key);

  std::optional<core::CountRecord> Get(std::string_view id) { return values_.Get(id); }

  // On the event loop, without a blocked thread: the same Apply where only the value store
  // is involved (no auto-create, which needs PostgreSQL). `done` runs on the loop.
  bool AppliesOnLoop() const { return loop_values_ && !auto_create_; }
  using WriteDone = std::function<void(std::exception_ptr error, WriteOutcome outcome)>;
  // Requires AppliesOnLoop(); `mutations` and `key` live until `done` has run.
  void ApplyOnLoop(std::span<const core::Mutation> mutations, const core::IdempotencyKey* key,
                   WriteDone done);
  void GetOnLoop(std::string_view id,
                 core::AsyncCountValueStore::Done<std::optional<core::CountRecord>> done) {
    loop_values_->Get(id, std::move(done));
  }

 private:
  static WriteOutcome Outcome(core::ApplyResult result);
  static WriteOutcome Undurable();
  // A request the value store carried out in part (a Redis Cluster's shards): the problem
  // naming the operations that were.
  static WriteOutcome InPart(const core::PartlyApplied& e);
  // Outcome(result), once the bus has acknowledged its event (blocks: the blocking pool only).
  WriteOutcome Durable(core::ApplyResult result);
  std::optional<core::Problem> CreateMissing(std::span<const core::Mutation> mutations);

  core::CountValueStore& values_;
  core::CountInfoStore& info_;
  app::CounterLifecycle lifecycle_;
  bool auto_create_;
  core::AsyncCountValueStore* loop_values_;
  core::EventAcks* acks_;
};

}  // namespace count::write
