#include "count_admin.hpp"

#include <algorithm>
#include <climits>

namespace count::management {
namespace {

std::optional<core::Problem> CheckBounds(const core::CountInfo& info) {
  if (info.min_value && info.max_value && *info.min_value > *info.max_value)
    return core::Validation("minValue must not exceed maxValue");
  return std::nullopt;
}

// A sharded counter's value is a sum over shards, which no single step can hold to a bound
// (docs/API.md, "Hot counters").
constexpr std::string_view kNoBounds =
    "a sharded counter (\"sharded\": true) has no minValue or maxValue: its value is a sum "
    "over shards that no single step can hold to a bound";

}  // namespace

ViewPage CountAdmin::List(std::string_view prefix, std::size_t limit, std::string_view after_id) {
  auto page = info_.List(prefix, limit, after_id);
  std::vector<std::string> ids;
  for (const auto& i : page.items) ids.push_back(i.id);
  auto values = values_.GetMany(ids);
  ViewPage out{{}, std::move(page.next_cursor)};
  for (std::size_t i = 0; i < page.items.size(); ++i)
    out.items.push_back({std::move(page.items[i]), std::move(values[i])});
  return out;
}

std::optional<CounterView> CountAdmin::Get(std::string_view id) {
  auto info = info_.Get(id);
  if (!info) return std::nullopt;
  return View(std::move(*info));
}

ViewResult CountAdmin::Create(NewCounter counter) {
  auto& info = counter.info;
  if (auto p = CheckBounds(info)) return {p, {}};
  if (info.sharded && (info.min_value || info.max_value))
    return {core::Validation(std::string(kNoBounds)), {}};
  const std::int64_t value = counter.initial_value.value_or(std::clamp<std::int64_t>(
      0, info.min_value.value_or(INT64_MIN), info.max_value.value_or(INT64_MAX)));
  if (!core::WithinBounds(value, info.min_value, info.max_value))
    return {core::Validation("initialValue must lie within minValue and maxValue"), {}};
  info.created_at = info.updated_at = core::Now();
  auto created = lifecycle_.Create(info, value);
  if (created.problem) return {std::move(created.problem), {}};
  return {std::nullopt, View(std::move(*created.info))};
}

ViewResult CountAdmin::Update(std::string_view id, const InfoPatch& patch) {
  const auto before = info_.Get(id);
  if (!before) return {core::NotFound("count '" + std::string(id) + "' does not exist"), {}};
  auto info = *before;
  if (patch.sharded && *patch.sharded != info.sharded)
    return {core::ShardedCounter("\"sharded\" is chosen when a counter is created and never "
                                 "changes; create another counter to change it"),
            {}};
  if (patch.description) info.description = *patch.description;
  if (patch.min_value) info.min_value = *patch.min_value;
  if (patch.max_value) info.max_value = *patch.max_value;
  if (auto p = CheckBounds(info)) return {p, {}};
  if (info.sharded && (info.min_value || info.max_value))
    return {core::ShardedCounter(std::string(kNoBounds)), {}};
  info.updated_at = core::Now();
  auto changed = lifecycle_.Update(*before, info);
  if (changed.problem) return {std::move(changed.problem), {}};
  return {std::nullopt, View(std::move(*changed.info))};
}

std::optional<core::Problem> CountAdmin::Delete(std::string_view id, bool purge_history) {
  return lifecycle_.Delete(id, purge_history).problem;
}

}  // namespace count::management
