#pragma once
// How the events of count-updates become history: folded into the rollups in batches, and a
// deletion that purges (DELETE ?purgeHistory=true) forgets the counter's history at its place
// in the stream — after the events before it, before the events after it (a counter created
// again under the same id starts a new history). Used by the Kafka consumer and by
// standalone's in-process bus alike.
#include <cstddef>
#include <span>

#include "core/event.hpp"
#include "core/history.hpp"

namespace count::analysis {

// Returns how many events were new (HistoryStore::Record skips those already recorded).
// Each event handled is logged with its trace ("event recorded", runtime::WriteEvent).
// A redelivered purge runs again: it forgets what that counter recorded up to then, which is
// only ever more than intended when the same id was created again within the redelivered
// window.
std::size_t RecordEvents(core::HistoryStore& history, std::span<const core::Event> events);

}  // namespace count::analysis
