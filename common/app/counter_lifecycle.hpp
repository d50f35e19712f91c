#pragma once
// The use cases that change a counter's existence or information. They are the only code
// that writes both the information store (CountInfoStore: PostgreSQL `countinfo`, the record
// of which counters exist) and the value store (CountValueStore: Redis, authoritative for
// values, with a copy of the information so a write needs one round trip), and they own the
// order of those writes. Used by management (UC-003) and by the write service when
// COUNT_AUTO_CREATE lets a write create its counter.
//
// The protocol (docs/ARCHITECTURE.md, "Two stores, one answer"): the information store is
// written first, then the value store; when the value store refuses or fails, the first write
// is undone before answering. So a single failure at any point leaves both stores changed
// (the answer is the success) or neither (the answer is a problem saying nothing changed):
// * a failure of the information store's write: nothing was written anywhere;
// * a failure between the writes (PostgreSQL stopping then): the value store's write still
//   happens and the change is complete;
// * a failure of the value store's write: the information store's write is undone.
// Only two failures in one request (the value store failing, then the information store
// failing during the undo) can leave the information ahead of the value store; the answer
// then says so, retrying the request completes it, and `reconcile` reports it.
#include <optional>
#include <string_view>

#include "core/ports.hpp"
#include "core/problem.hpp"

namespace count::app {

struct Change {
  std::optional<core::Problem> problem;  // nullopt: done in both stores
  std::optional<core::CountInfo> info;   // the information now recorded (when done)
};

class CounterLifecycle {
 public:
  CounterLifecycle(core::CountInfoStore& info, core::CountValueStore& values)
      : info_(info), values_(values) {}

  // A new counter at `initial_value` (within its bounds; checked by the caller).
  Change Create(const core::CountInfo& info, std::int64_t initial_value);
  // Replaces the recorded information `before` (as the caller just read it) with `after`:
  // description and bounds; refused (out-of-bounds) when the current value lies outside the
  // new bounds.
  Change Update(const core::CountInfo& before, const core::CountInfo& after);
  // Removes the counter from both stores (and, with `purge_history`, its history, through its
  // deleted event). not-found when neither has it.
  Change Delete(std::string_view id, bool purge_history);

 private:
  // The value store failed after the information store changed: undoes that change and
  // returns the problem that tells the client which state it left.
  template <typename Undo>
  core::Problem Rollback(std::string_view what, const core::StoreUnavailable& failure, Undo undo);

  core::CountInfoStore& info_;
  core::CountValueStore& values_;
};

}  // namespace count::app
