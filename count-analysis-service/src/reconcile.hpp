#pragma once
// Detects and repairs drift between the value store and the history: for every counter,
// the last value the history holds must equal the stored value. A repair records one
// synthetic event carrying the difference, so the history's deltas again sum to the value.
// Run it when the event pipeline is idle (outbox and consumer lag drained): events still
// in flight look like drift.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/history.hpp"
#include "core/ports.hpp"

namespace count::analysis {

struct Drift {
  std::string count_id;
  std::optional<std::int64_t> history;  // nullopt: the history knows nothing of the counter
  std::int64_t value = 0;               // what the value store holds
};

// Walks every counter of `info`; with `repair`, records a correcting event per drift.
std::vector<Drift> Reconcile(core::CountInfoStore& info, core::CountValueStore& values,
                             core::HistoryStore& history, bool repair);

}  // namespace count::analysis
