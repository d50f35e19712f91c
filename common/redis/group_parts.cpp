#include "redis/group_parts.hpp"

#include <algorithm>
#include <string>

namespace count::redis {
namespace {

std::string What(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

GroupParts SplitByGroup(const KeyLayout& layout, std::span<const core::Mutation> mutations) {
  GroupParts split;
  split.size = mutations.size();
  for (std::size_t i = 0; i < mutations.size(); ++i) {
    const std::size_t group = layout.GroupOf(mutations[i].id);
    auto part = std::ranges::find(split.parts, group, &GroupParts::Part::group);
    if (part == split.parts.end()) part = split.parts.insert(part, GroupParts::Part{group});
    part->mutations.push_back(mutations[i]);
    part->index.push_back(i);
  }
  return split;
}

core::ApplyResult MergeParts(GroupParts& split) {
  core::ApplyResult merged;
  merged.outcomes.resize(split.size);
  std::vector<std::size_t> applied;
  std::exception_ptr failure;  // of the first part that failed
  bool applied_now = false;
  for (auto& part : split.parts) {
    if (part.error) {
      if (!failure) failure = part.error;
      continue;
    }
    if (part.result.status == core::ApplyResult::Status::kKeyConflict) continue;
    applied_now |= part.result.status == core::ApplyResult::Status::kApplied;
    for (std::size_t k = 0; k < part.index.size(); ++k) {
      merged.outcomes[part.index[k]] = std::move(part.result.outcomes[k]);
      applied.push_back(part.index[k]);
    }
    if (!part.result.position.empty())
      merged.position += (merged.position.empty() ? "" : " ") + part.result.position;
  }
  if (applied.size() == split.size) {
    merged.status =
        applied_now ? core::ApplyResult::Status::kApplied : core::ApplyResult::Status::kReplayed;
    return merged;
  }
  if (applied.empty()) {
    if (failure) std::rethrow_exception(failure);
    return {core::ApplyResult::Status::kKeyConflict, {}, {}};
  }
  std::ranges::sort(applied);
  const std::string carried = "; the operations listed in \"applied\" were carried out";
  if (failure)
    throw core::PartlyApplied(std::move(applied), false,
                              "the batch was applied in part: its operations are on several "
                              "shards of the value store (Redis Cluster) and a shard failed (" +
                                  What(failure) + ")" + carried +
                                  ", the others failed (all of a shard's part or none of it: "
                                  "when a shard stops answering during the call, which one "
                                  "cannot be told); repeat the request with the same "
                                  "Idempotency-Key to complete it exactly once");
  throw core::PartlyApplied(std::move(applied), true,
                            "this Idempotency-Key was used with a different request in the last "
                            "24 hours, which touched some of the shards of this one (Redis "
                            "Cluster)" +
                                carried + ", the others changed nothing");
}

}  // namespace count::redis
