#include "harness/memory_stores.hpp"

namespace count::fuzz {

core::ApplyResult MemoryValues::Apply(std::span<const core::Mutation> mutations,
                                      const core::IdempotencyKey* key) {
  if (key) {
    if (auto it = keys_.find(key->key); it != keys_.end()) {
      if (it->second.first != key->fingerprint) return {core::ApplyResult::Status::kKeyConflict};
      auto replay = it->second.second;
      replay.status = core::ApplyResult::Status::kReplayed;
      return replay;
    }
  }
  core::ApplyResult result;
  bool any = false;
  for (const auto& m : mutations) {
    auto it = records_.find(m.id);
    if (it == records_.end()) {
      result.outcomes.emplace_back(core::MutationError::kNotFound);
      continue;
    }
    auto outcome = core::ApplyTo(m, it->second);
    if (auto* applied = std::get_if<core::Applied>(&outcome)) {
      applied->updated_at = kNow;
      it->second.value = applied->value;
      it->second.updated_at = kNow;
      any = true;
    }
    result.outcomes.push_back(outcome);
  }
  if (key && any) keys_[key->key] = {key->fingerprint, result};
  return result;
}

std::optional<core::CountRecord> MemoryValues::Get(std::string_view id) {
  const auto it = records_.find(id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::optional<core::CountRecord>> MemoryValues::GetMany(
    std::span<const std::string> ids) {
  std::vector<std::optional<core::CountRecord>> out;
  for (const auto& id : ids) out.push_back(Get(id));
  return out;
}

bool MemoryValues::Create(const core::CountInfo& info, std::int64_t initial_value) {
  return records_
      .emplace(info.id,
               core::CountRecord{info.id, initial_value, info.description, info.min_value,
                                 info.max_value, info.created_at, info.updated_at, info.sharded})
      .second;
}

core::CountValueStore::UpdateResult MemoryValues::UpdateInfo(const core::CountInfo& info) {
  const auto it = records_.find(info.id);
  if (it == records_.end()) return UpdateResult::kNotFound;
  if (!core::WithinBounds(it->second.value, info.min_value, info.max_value))
    return UpdateResult::kValueOutsideBounds;
  it->second.description = info.description;
  it->second.min_value = info.min_value;
  it->second.max_value = info.max_value;
  it->second.updated_at = info.updated_at;
  return UpdateResult::kUpdated;
}

bool MemoryValues::Delete(std::string_view id, bool) {
  const auto it = records_.find(id);
  if (it == records_.end()) return false;
  records_.erase(it);
  return true;
}

bool MemoryInfo::Create(const core::CountInfo& info) {
  return infos_.emplace(info.id, info).second;
}

std::optional<core::CountInfo> MemoryInfo::Get(std::string_view id) {
  const auto it = infos_.find(id);
  if (it == infos_.end()) return std::nullopt;
  return it->second;
}

core::CountPage MemoryInfo::List(std::string_view prefix, std::size_t limit,
                                 std::string_view after_id) {
  core::CountPage page;
  auto it = after_id.empty() ? infos_.lower_bound(prefix) : infos_.upper_bound(after_id);
  for (; it != infos_.end() && it->first.starts_with(prefix); ++it) {
    if (page.items.size() == limit) {
      page.next_cursor = page.items.back().id;
      break;
    }
    page.items.push_back(it->second);
  }
  return page;
}

bool MemoryInfo::Update(const core::CountInfo& info) {
  const auto it = infos_.find(info.id);
  if (it == infos_.end()) return false;
  it->second = info;
  return true;
}

bool MemoryInfo::Delete(std::string_view id) {
  const auto it = infos_.find(id);
  if (it == infos_.end()) return false;
  infos_.erase(it);
  return true;
}

std::size_t MemoryHistory::Import(std::span<const core::HistoryPoint> points) {
  std::size_t added = 0;
  for (const auto& p : points) added += points_[p.count_id].emplace(p.timestamp, p.value).second;
  return added;
}

std::vector<core::Bucket> MemoryHistory::Series(std::string_view count_id, core::Timestamp from,
                                                core::Timestamp to, core::Unit unit) {
  std::vector<core::Bucket> out;
  const auto it = points_.find(count_id);
  if (it == points_.end()) return out;
  for (auto p = it->second.lower_bound(from); p != it->second.end() && p->first < to; ++p) {
    const auto start = core::BucketStart(p->first, unit);
    if (out.empty() || out.back().start != start)
      out.push_back({start, p->second, 0, p->second, p->second});
    auto& b = out.back();
    b.last = p->second;
    b.min = std::min(b.min, p->second);
    b.max = std::max(b.max, p->second);
  }
  return out;
}

std::optional<core::HistoryPoint> MemoryHistory::Latest(std::string_view count_id) {
  const auto it = points_.find(count_id);
  if (it == points_.end() || it->second.empty()) return std::nullopt;
  const auto& [t, v] = *it->second.rbegin();
  return core::HistoryPoint{std::string(count_id), t, v};
}

std::optional<core::HistoryPoint> MemoryHistory::LastIn(std::string_view count_id,
                                                        core::Timestamp from, core::Timestamp to) {
  const auto it = points_.find(count_id);
  if (it == points_.end()) return std::nullopt;
  auto p = it->second.lower_bound(to);
  if (p == it->second.begin()) return std::nullopt;
  --p;
  if (p->first < from) return std::nullopt;
  return core::HistoryPoint{std::string(count_id), p->first, p->second};
}

void MemoryHistory::Purge(std::string_view count_id) {
  if (auto it = points_.find(count_id); it != points_.end()) points_.erase(it);
}

}  // namespace count::fuzz
