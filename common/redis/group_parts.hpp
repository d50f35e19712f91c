#pragma once
// A request whose counters are in several tag groups of a Redis Cluster (key_layout.hpp) is
// split into one part per group, each applied as usual: one apply script, atomic on the shard
// that holds its group, with the request's idempotency record (the whole request's fingerprint)
// in that group. Then the parts' answers are merged back into the request's order
// (docs/API.md, "Batches on a Redis Cluster"; docs/ARCHITECTURE.md, "Redis Cluster").
//
// Why this rule: each operation of a batch is applied or refused on its own already (a refused
// one is an outcome, never the whole batch's), and every operation on one counter is in the
// same part, in the request's order; so split and merged, a batch answers exactly as on one
// server. What cannot be kept is the single atomic step: the parts land one shard at a time,
// and a shard may fail between them. So a request is never answered as if whole when it was
// not: MergeParts throws core::PartlyApplied naming the operations carried out, and a repeat
// with the same Idempotency-Key replays the parts recorded and applies the others.
#include <cstddef>
#include <exception>
#include <span>
#include <vector>

#include "core/ports.hpp"
#include "redis/key_layout.hpp"

namespace count::redis {

struct GroupParts {
  struct Part {
    std::size_t group;
    std::vector<core::Mutation> mutations;  // the request's mutations of this group, in order
    std::vector<std::size_t> index;         // of each in the request
    core::ApplyResult result;
    std::exception_ptr error;  // the part failed (StoreUnavailable): it changed nothing
  };
  std::vector<Part> parts;   // in the order each group first appears in the request
  std::size_t size = 0;      // the request's mutations
  std::size_t answered = 0;  // parts answered so far (for callers that apply them concurrently)
};

GroupParts SplitByGroup(const KeyLayout& layout, std::span<const core::Mutation> mutations);

// The request's answer from its parts' answers:
// * every part applied or replayed: the outcomes in request order (kApplied when any part was
//   applied now, kReplayed when all were replayed), and each part's outbox position, separated
//   by spaces;
// * no part carried out: the first part's error is rethrown (a plain 503, as one shard's), or,
//   when every part found the key recorded for another request, kKeyConflict;
// * some parts carried out, others not: throws core::PartlyApplied.
core::ApplyResult MergeParts(GroupParts& split);

}  // namespace count::redis
