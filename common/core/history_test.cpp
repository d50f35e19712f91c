#include "core/history.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace count::core {
namespace {

Timestamp T(std::string_view text) { return *ParseTimestamp(text); }

Event Part(std::string id, std::string count, int sub, std::int64_t part_value, std::int64_t delta,
           std::string_view at) {
  Event e{std::move(id), EventType::kUpdated, std::move(count), delta, part_value, T(at), "t"};
  e.sub_counter = sub;
  return e;
}

// (event id, value, time) of what CounterValues hands the history.
using Seen = std::tuple<std::string, std::int64_t, std::string>;
std::vector<Seen> Fold(const std::vector<Event>& events, std::vector<HistoryPoint> latest = {}) {
  std::vector<const Event*> pointers;
  for (const auto& e : events) pointers.push_back(&e);
  std::deque<Event> copies;
  CounterValues(pointers, latest, copies);
  std::vector<Seen> seen;
  for (const Event* e : pointers) {
    EXPECT_FALSE(e->sub_counter) << e->event_id;
    seen.emplace_back(e->event_id, e->value, FormatTimestamp(e->timestamp));
  }
  return seen;
}

// docs/ARCHITECTURE.md, "Hot counters": the history records a sharded counter's value, its last
// recorded one plus each part's delta, at the latest time seen for it, whatever order the
// parts' events arrive in.
TEST(CounterValues, AddsThePartsDeltasToTheLastRecordedValue) {
  const std::vector<Event> events = {
      Part("a", "hot", 1, 7, 3, "2026-01-01T10:00:10Z"),
      Part("b", "hot", 0, 2, 2, "2026-01-01T10:00:05Z"),  // relayed later, applied earlier
      Part("c", "hot", 0, 1, -1, "2026-01-01T10:01:00Z"),
      Part("d", "hot", Event::kOwnKey, 100, 0, "2026-01-01T10:01:01Z"),  // a description
  };
  const std::vector<HistoryPoint> latest = {{"hot", T("2026-01-01T09:59:00Z"), 100},
                                            {"other", T("2026-01-01T09:00:00Z"), 5}};
  EXPECT_EQ(Fold(events, latest), (std::vector<Seen>{{"a", 103, "2026-01-01T10:00:10.000Z"},
                                                     {"b", 105, "2026-01-01T10:00:10.000Z"},
                                                     {"c", 104, "2026-01-01T10:01:00.000Z"},
                                                     {"d", 104, "2026-01-01T10:01:01.000Z"}}));
  EXPECT_EQ(CountersOfParts(std::vector<const Event*>{&events[0], &events[1]}),
            std::vector<std::string>{"hot"});
}

// The counter's own events name its key (-1) and count by their deltas too, so the parts'
// events may come before its creation; its deletion leaves 0, where a creation under the same
// id starts. Ordinary counters pass untouched; a counter without a point starts from 0.
TEST(CounterValues, TheCountersOwnEventsCountByTheirDeltasToo) {
  auto own = [](std::string id, EventType type, std::int64_t value, std::int64_t delta,
                std::string_view at) {
    Event e{std::move(id), type, "hot", delta, value, T(at), "t"};
    e.sub_counter = Event::kOwnKey;
    return e;
  };
  Event plain{"p", EventType::kUpdated, "plain", 1, 42, T("2026-01-01T10:00:00Z"), "t"};
  EXPECT_EQ(Fold({Part("b", "hot", 3, 4, 4, "2026-01-01T10:00:01Z"),
                  own("a", EventType::kCreated, 5, 5, "2026-01-01T10:00:00Z"), plain,
                  Part("c", "new", 2, 6, 6, "2026-01-01T10:00:02Z"),
                  own("z", EventType::kDeleted, 9, -9, "2026-01-01T10:00:03Z"),
                  own("y", EventType::kCreated, 1, 1, "2026-01-01T10:00:04Z")}),
            (std::vector<Seen>{{"b", 4, "2026-01-01T10:00:01.000Z"},
                               {"a", 9, "2026-01-01T10:00:01.000Z"},
                               {"p", 42, "2026-01-01T10:00:00.000Z"},
                               {"c", 6, "2026-01-01T10:00:02.000Z"},
                               {"z", 0, "2026-01-01T10:00:03.000Z"},
                               {"y", 1, "2026-01-01T10:00:04.000Z"}}));
}

TEST(CounterValues, SaturatesAtTheInt64Limits) {
  EXPECT_EQ(Fold({Part("a", "hot", 0, 1, 10, "2026-01-01T10:00:00Z")},
                 {{"hot", T("2026-01-01T09:00:00Z"), INT64_MAX - 1}}),
            (std::vector<Seen>{{"a", INT64_MAX, "2026-01-01T10:00:00.000Z"}}));
}

}  // namespace
}  // namespace count::core
