#include "count_writes.hpp"

#include <algorithm>
#include <future>
#include <memory>

namespace count::write {

std::optional<core::Problem> CountWrites::CreateMissing(std::span<const core::Mutation> mutations) {
  std::vector<std::string> ids;
  for (const auto& m : mutations) ids.push_back(m.id);
  std::ranges::sort(ids);
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  const auto records = values_.GetMany(ids);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (records[i]) continue;
    const auto now = core::Now();
    auto created = lifecycle_.Create({ids[i], "", std::nullopt, std::nullopt, now, now}, 0);
    // Another request may have created it meanwhile: that is what was wanted.
    if (created.problem && created.problem->outcome != core::Outcome::kAlreadyExists)
      return created.problem;
  }
  return std::nullopt;
}

WriteOutcome CountWrites::Apply(std::span<const core::Mutation> mutations,
                                const core::IdempotencyKey* key) {
  if (auto_create_)
    if (auto p = CreateMissing(mutations)) return {std::move(p), {}};
  try {
    return Durable(values_.Apply(mutations, key));
  } catch (const core::PartlyApplied& e) {
    return InPart(e);
  }
}

WriteOutcome CountWrites::InPart(const core::PartlyApplied& e) {
  auto problem =
      e.key_reused ? core::IdempotencyKeyReused(e.what()) : core::AppliedInPart(e.what(), {});
  problem.applied = e.applied;
  return {std::move(problem), {}};
}

WriteOutcome CountWrites::Durable(core::ApplyResult result) {
  if (!acks_ || result.position.empty()) return Outcome(std::move(result));
  auto durable = std::make_shared<std::promise<bool>>();
  acks_->Await(result.position, [durable](bool d) { durable->set_value(d); });
  return durable->get_future().get() ? Outcome(std::move(result)) : Undurable();
}

WriteOutcome CountWrites::Undurable() {
  return {core::NotDurable("the change was applied, but Kafka has not acknowledged its event in "
                           "time (WRITE_ACK=kafka); repeat the request with the same "
                           "Idempotency-Key to get its answer once it is durable (without one, a "
                           "repeat applies it again)"),
          {}};
}

void CountWrites::ApplyOnLoop(std::span<const core::Mutation> mutations,
                              const core::IdempotencyKey* key, WriteDone done) {
  loop_values_->Apply(
      mutations, key,
      [this, done = std::move(done)](std::exception_ptr error, core::ApplyResult r) {
        if (error) {
          try {
            std::rethrow_exception(error);
          } catch (const core::PartlyApplied& e) {
            return done(nullptr, InPart(e));
          } catch (...) {
            return done(error, {});
          }
        }
        if (!acks_ || r.position.empty()) return done(nullptr, Outcome(std::move(r)));
        // Answered from the acks' thread: `done` (http::Respond) posts to the loop.
        const std::string position = r.position;
        acks_->Await(position, [done, r = std::move(r)](bool durable) mutable {
          done(nullptr, durable ? Outcome(std::move(r)) : Undurable());
        });
      });
}

WriteOutcome CountWrites::Outcome(core::ApplyResult result) {
  WriteOutcome out{std::nullopt, std::move(result)};
  if (out.result.status == core::ApplyResult::Status::kKeyConflict)
    out.problem = core::IdempotencyKeyReused(
        "this Idempotency-Key was used with a different request in the last 24 hours");
  return out;
}

WriteOutcome CountWrites::SetDescribed(const core::Mutation& set, std::string description,
                                       const core::IdempotencyKey* key) {
  if (auto_create_)
    if (auto p = CreateMissing(std::span(&set, 1))) return {std::move(p), {}};
  const auto before = info_.Get(set.id);
  if (!before)
    return {core::NotFound("count '" + set.id + "' does not exist; create it first"), {}};
  auto described = *before;
  described.description = std::move(description);
  described.updated_at = core::Now();
  if (auto changed = lifecycle_.Update(*before, described); changed.problem)
    return {std::move(changed.problem), {}};
  WriteOutcome out;
  try {
    out = Apply(std::span(&set, 1), key);
  } catch (const core::StoreUnavailable&) {
    lifecycle_.Update(described, *before);  // when this fails too, its 503 says so instead
    throw;
  }
  // Not durable is applied all the same: the description stays.
  const bool refused =
      (out.problem && out.problem->outcome != core::Outcome::kNotDurable) ||
      (!out.problem && std::holds_alternative<core::MutationError>(out.result.outcomes.front()));
  if (refused) lifecycle_.Update(described, *before);
  return out;
}

}  // namespace count::write
