#pragma once
// Rebuilds the value store after it was lost (docs/OPERATIONS.md, "Rebuilding the values"):
// every counter of the record (the information store) gets the latest value its history holds.
// The history is complete once it has folded every event Kafka holds; the command waits for
// that before calling this (kafka::GroupLag). What cannot come back: changes whose events
// never reached Kafka, and counters the history no longer knows (see Rebuilt::unknown).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/history.hpp"
#include "core/ports.hpp"

namespace count::analysis {

struct Rebuilt {
  std::size_t restored = 0;          // counters written with their history's latest value
  std::size_t present = 0;           // counters the value store held already (left alone)
  std::vector<std::string> unknown;  // no history (pruned or never fed): written at the
                                     // create default, 0 or the bound nearest to it
};

// Writes one counter with its value unless it exists; false when it existed.
using RestoreValue = std::function<bool(const core::CountInfo& info, std::int64_t value)>;

Rebuilt RebuildValues(core::CountInfoStore& info, core::HistoryStore& history,
                      const RestoreValue& restore);

}  // namespace count::analysis
