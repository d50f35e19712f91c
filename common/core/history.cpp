#include "core/history.hpp"

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

}  // namespace count::core
