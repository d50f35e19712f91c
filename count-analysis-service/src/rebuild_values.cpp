#include "rebuild_values.hpp"

#include <algorithm>
#include <limits>

namespace count::analysis {

Rebuilt RebuildValues(core::CountInfoStore& info, core::HistoryStore& history,
                      const RestoreValue& restore) {
  constexpr std::size_t kPage = 500;
  Rebuilt rebuilt;
  std::string cursor;
  for (;;) {
    const auto page = info.List("", kPage, cursor);
    for (const auto& counter : page.items) {
      const auto latest = history.Latest(counter.id);
      core::CountInfo restored = counter;
      std::int64_t value = 0;
      if (latest) {
        value = latest->value;
        // Its last change is the later of its record's and its value's (the history's).
        restored.updated_at = std::max(counter.updated_at, latest->timestamp);
      } else {
        rebuilt.unknown.push_back(counter.id);
        value = std::clamp<std::int64_t>(
            0, counter.min_value.value_or(std::numeric_limits<std::int64_t>::min()),
            counter.max_value.value_or(std::numeric_limits<std::int64_t>::max()));
      }
      ++(restore(restored, value) ? rebuilt.restored : rebuilt.present);
    }
    if (!page.next_cursor) break;
    cursor = *page.next_cursor;
  }
  return rebuilt;
}

}  // namespace count::analysis
