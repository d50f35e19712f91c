#include "redis/key_layout.hpp"

#include <charconv>
#include <stdexcept>

#include "redis/cluster_slots.hpp"

namespace count::redis {

KeyLayout KeyLayout::Cluster(std::size_t groups) {
  if (groups < 1 || groups > kMaxGroups)
    throw std::invalid_argument("cluster groups must be 1-" + std::to_string(kMaxGroups));
  KeyLayout layout;
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t first = g * kClusterSlots / groups, end = (g + 1) * kClusterSlots / groups;
    for (std::size_t n = 0;; ++n) {
      std::string tag = "g" + std::to_string(n);
      const auto slot = static_cast<std::size_t>(KeySlot(tag));
      if (slot >= first && slot < end) {
        layout.tags_.push_back(std::move(tag));
        break;
      }
    }
  }
  return layout;
}

std::size_t KeyLayout::GroupOf(std::string_view count_id) const {
  if (!clustered()) return 0;
  const std::size_t hash = count_id.find('#');
  // The slot of the id itself (ids hold no braces), scaled to the groups.
  const std::size_t g =
      static_cast<std::size_t>(KeySlot(count_id.substr(0, hash))) * groups() / kClusterSlots;
  if (hash == std::string_view::npos) return g;
  std::size_t i = 0;
  std::from_chars(count_id.data() + hash + 1, count_id.data() + count_id.size(), i);
  return (g + i * groups() / std::max<std::size_t>(SubCounters(), 1)) % groups();
}

std::string KeyLayout::SubCounterId(std::string_view count_id, std::size_t i) {
  return std::string(count_id) + "#" + std::to_string(i);
}

const std::string& KeyLayout::Tag(std::size_t group) const {
  static const std::string none;
  return clustered() ? tags_.at(group) : none;
}

std::string KeyLayout::Counter(std::string_view count_id) const {
  if (!clustered()) return "count:{" + std::string(count_id) + "}";
  return "count:{" + Tag(GroupOf(count_id)) + "}:" + std::string(count_id);
}

std::string KeyLayout::Idempotency(std::size_t group, std::string_view key) const {
  if (!clustered()) return "idem:" + std::string(key);
  return "idem:{" + Tag(group) + "}:" + std::string(key);
}

std::string KeyLayout::Stream(std::size_t group) const {
  if (!clustered()) return "count-events";
  return "count-events:{" + Tag(group) + "}";
}

std::string KeyLayout::CounterPattern() const { return clustered() ? "count:{g*}:*" : "count:{*"; }

std::string KeyLayout::Description() const {
  if (!clustered()) return "";
  return "groups=" + std::to_string(groups()) + " sub-counters=" + std::to_string(SubCounters());
}

}  // namespace count::redis
