#include "core/history.hpp"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

namespace count::core {

std::string_view ToString(Unit unit) {
  switch (unit) {
    case Unit::kMinute:
      return "minute";
    case Unit::kHour:
      return "hour";
    case Unit::kDay:
      return "day";
    case Unit::kWeek:
      return "week";
    case Unit::kMonth:
      return "month";
  }
  return "?";
}

std::optional<Unit> ParseUnit(std::string_view text) {
  for (Unit u : {Unit::kMinute, Unit::kHour, Unit::kDay, Unit::kWeek, Unit::kMonth})
    if (ToString(u) == text) return u;
  return std::nullopt;
}

Timestamp BucketStart(Timestamp t, Unit unit) {
  using namespace std::chrono;
  switch (unit) {
    case Unit::kMinute:
      return floor<minutes>(t);
    case Unit::kHour:
      return floor<hours>(t);
    case Unit::kDay:
      return floor<days>(t);
    case Unit::kWeek: {
      const sys_days day = floor<days>(t);
      return day - days{weekday{day}.iso_encoding() - 1};  // ISO: Monday = 1
    }
    case Unit::kMonth: {
      const year_month_day ymd{floor<days>(t)};
      return sys_days{ymd.year() / ymd.month() / 1};
    }
  }
  return t;
}

std::vector<BucketValue> HistoryStore::LastValues(std::string_view count_id, Timestamp from,
                                                  Timestamp to, Unit unit) {
  const auto buckets = Series(count_id, from, to, unit);
  std::vector<BucketValue> values;
  values.reserve(buckets.size());
  for (const auto& b : buckets) values.push_back({b.start, b.last});
  return values;
}

std::vector<std::string> CountersOfParts(std::span<const Event* const> events) {
  std::vector<std::string> counters;
  std::unordered_set<std::string_view> seen;
  for (const Event* e : events)
    if (e->sub_counter && seen.insert(e->count_id).second) counters.push_back(e->count_id);
  return counters;
}

void CounterValues(std::vector<const Event*>& events, std::span<const HistoryPoint> latest,
                   std::deque<Event>& copies) {
  struct Known {
    std::int64_t value = 0;
    Timestamp at = Timestamp::min();
  };
  // The counters with a part: from 0 unless a point of theirs was recorded.
  std::unordered_map<std::string_view, Known> known;
  for (const Event* e : events)
    if (e->sub_counter) known.try_emplace(e->count_id);
  for (const auto& p : latest)
    if (auto it = known.find(p.count_id); it != known.end()) it->second = {p.value, p.timestamp};
  for (const Event*& e : events) {
    if (!e->sub_counter) continue;
    Known& counter = known.at(e->count_id);
    std::int64_t value = 0;
    const std::int64_t delta = e->delta.value_or(0);
    if (__builtin_add_overflow(counter.value, delta, &value))
      value = delta > 0 ? std::numeric_limits<std::int64_t>::max()
                        : std::numeric_limits<std::int64_t>::min();
    counter = {value, std::max(counter.at, e->timestamp)};
    Event& copy = copies.emplace_back(*e);
    copy.value = counter.value;
    copy.timestamp = counter.at;
    copy.sub_counter.reset();
    e = &copy;
  }
}

}  // namespace count::core
