#pragma once
// History (UC-004): minute rollups of every counter, fed by events and by imports;
// hours, days, weeks and months are derived from the minutes.
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/count.hpp"
#include "core/event.hpp"

namespace count::core {

enum class Unit { kMinute, kHour, kDay, kWeek, kMonth };
std::string_view ToString(Unit unit);
std::optional<Unit> ParseUnit(std::string_view text);
// The start of the bucket holding `t` (UTC; weeks start on Monday, months on the 1st).
Timestamp BucketStart(Timestamp t, Unit unit);

struct Bucket {
  Timestamp start{};
  std::int64_t last = 0;       // the value at the end of the bucket
  std::int64_t sum_delta = 0;  // sum of the deltas applied in the bucket
  std::int64_t min = 0;
  std::int64_t max = 0;
};

// A bucket's start and the last value recorded in it: what a trend or a prediction reads.
struct BucketValue {
  Timestamp t{};
  std::int64_t value = 0;
};

struct HistoryPoint {
  std::string count_id;
  Timestamp timestamp{};
  std::int64_t value = 0;
};

// The events of a sharded counter's parts (Event::sub_counter, on a Redis Cluster) carry a
// part's value; the history records its counter's value instead (docs/ARCHITECTURE.md, "Hot
// counters"). The counter's value after such an event is its value before (the last one
// recorded) plus the event's delta: exact, since every change, the creation and the deletion
// have one event each with their delta, and the history folds each event once; and a sum,
// whatever order the parts' events reach the history in (each part's stream is relayed on its
// own). It is recorded at the latest time seen for the counter, so the latest point holds the
// latest value.
//
// The counters among `events` that have an event of a part, each once: a store passes their
// last recorded points (HistoryStore::Latest) to CounterValues.
std::vector<std::string> CountersOfParts(std::span<const Event* const> events);
// Replaces each event of a part in `events` (the fresh events of one Record, in the order
// received) by a copy, kept in `copies`, carrying its counter's value and time as above (after
// its deletion, 0); the counter's value before it is that after its previous event in
// `events`, else its point in `latest`, else 0. Other events pass unchanged.
void CounterValues(std::vector<const Event*>& events, std::span<const HistoryPoint> latest,
                   std::deque<Event>& copies);

class HistoryStore {
 public:
  virtual ~HistoryStore() = default;
  // Folds events into the minute rollups in one transaction, skipping event ids already
  // recorded, so a redelivery never counts twice. Returns how many were new.
  virtual std::size_t Record(std::span<const Event> events) = 0;
  // Loads absolute values (migration of existing history). Importing the same points
  // again changes nothing. Returns how many were new.
  virtual std::size_t Import(std::span<const HistoryPoint> points) = 0;
  // Buckets of [from, to) in time order; buckets without data are absent.
  virtual std::vector<Bucket> Series(std::string_view count_id, Timestamp from, Timestamp to,
                                     Unit unit) = 0;
  // The start and last value of each bucket of [from, to) with data, in time order: Series
  // without the sums and extremes. This default derives them from Series; a store that can
  // read last values alone (minutes packed per hour) overrides it.
  virtual std::vector<BucketValue> LastValues(std::string_view count_id, Timestamp from,
                                              Timestamp to, Unit unit);
  // The last recorded value and its time, for reconciliation against the value store.
  virtual std::optional<HistoryPoint> Latest(std::string_view count_id) = 0;
  // The last value recorded in the minutes of [from, to), and its time: one index probe,
  // where Series would aggregate the whole period (comparison of many counters).
  virtual std::optional<HistoryPoint> LastIn(std::string_view count_id, Timestamp from,
                                             Timestamp to) = 0;
  virtual void Purge(std::string_view count_id) = 0;
  // Retention: drops rollups, remembered event ids and imported points older than `before`
  // (a store may keep the whole hour holding `before`), at most `limit` rows of each kind per
  // call, so a caller can stop between calls. Returns the rows dropped, all kinds together;
  // call again while that is at least `limit`.
  virtual std::size_t Prune(Timestamp before, std::size_t limit) = 0;
  virtual bool Ping() = 0;
};

}  // namespace count::core
