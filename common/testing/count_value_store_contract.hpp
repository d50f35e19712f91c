#pragma once
// The CountValueStore contract: the counting rule (exact int64 arithmetic, inclusive bounds,
// refusals that change nothing, independent batch operations, idempotency records), as one
// suite every implementation passes — Redis (scripts/apply.lua) and SQLite (the C++ rule,
// core::ApplyArithmetic) — so they cannot drift apart. An adapter's test instantiates it
// with a backend type offering `core::CountValueStore& store()` and `std::size_t
// max_batch()`:
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, CountValueStoreContract, SqliteValueBackend);
// Ids and idempotency keys are unique per run, so a backend may share one server.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/ports.hpp"

namespace count::testing {

template <class Backend>
class CountValueStoreContract : public ::testing::Test {
 protected:
  static constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  static constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  using Kind = core::MutationKind;
  using Error = core::MutationError;

  core::CountValueStore& store() { return backend_.store(); }

  // An id (or key) of this test and this run only.
  static std::string Id(const std::string& suffix = "c") {
    static const std::string run = std::to_string(std::random_device{}());
    return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "." +
           suffix + "." + run;
  }
  static core::CountInfo Info(std::string id, std::optional<std::int64_t> min = std::nullopt,
                              std::optional<std::int64_t> max = std::nullopt) {
    const auto now = core::Now();
    return {std::move(id), "", min, max, now, now};
  }
  std::string Create(const std::string& suffix, std::int64_t value,
                     std::optional<std::int64_t> min = std::nullopt,
                     std::optional<std::int64_t> max = std::nullopt) {
    std::string id = Id(suffix);
    EXPECT_TRUE(store().Create(Info(id, min, max), value));
    return id;
  }
  core::ApplyResult Apply(const std::vector<core::Mutation>& mutations,
                          const core::IdempotencyKey* key = nullptr) {
    return store().Apply(mutations, key);
  }
  core::MutationOutcome One(Kind kind, const std::string& id, std::int64_t operand) {
    auto r = Apply({core::Mutation{kind, id, operand}});
    EXPECT_EQ(r.outcomes.size(), 1u);
    return r.outcomes.at(0);
  }
  std::int64_t Value(const std::string& id) { return store().Get(id).value().value; }

  static core::Applied Ok(const core::MutationOutcome& outcome) {
    EXPECT_TRUE(std::holds_alternative<core::Applied>(outcome));
    return std::holds_alternative<core::Applied>(outcome) ? std::get<core::Applied>(outcome)
                                                          : core::Applied{};
  }
  static Error Refused(const core::MutationOutcome& outcome) {
    EXPECT_TRUE(std::holds_alternative<Error>(outcome));
    return std::holds_alternative<Error>(outcome) ? std::get<Error>(outcome) : Error::kNotFound;
  }

  Backend backend_;
};

TYPED_TEST_SUITE_P(CountValueStoreContract);

TYPED_TEST_P(CountValueStoreContract, CreateGetDelete) {
  const std::string id = this->Id();
  auto info = this->Info(id, -5, 100);
  info.description = "visits";
  info.created_at = core::Timestamp(std::chrono::milliseconds(1000));
  info.updated_at = core::Timestamp(std::chrono::milliseconds(2000));
  ASSERT_TRUE(this->store().Create(info, 7));
  EXPECT_FALSE(this->store().Create(info, 8)) << "an existing id is not created again";
  const auto record = this->store().Get(id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->id, id);
  EXPECT_EQ(record->value, 7);
  EXPECT_EQ(record->description, "visits");
  EXPECT_EQ(record->min_value, -5);
  EXPECT_EQ(record->max_value, 100);
  EXPECT_EQ(record->created_at, info.created_at);
  EXPECT_EQ(record->updated_at, info.updated_at);
  EXPECT_TRUE(this->store().Delete(id, false));
  EXPECT_FALSE(this->store().Get(id));
  EXPECT_FALSE(this->store().Delete(id, false));
}

TYPED_TEST_P(CountValueStoreContract, IncrementDecrementSet) {
  using Kind = core::MutationKind;
  const std::string id = this->Create("c", 10);
  const auto inc = this->Ok(this->One(Kind::kIncrement, id, 5));
  EXPECT_EQ(inc.id, id);
  EXPECT_EQ(inc.value, 15);
  EXPECT_EQ(inc.delta, 5);
  const auto dec = this->Ok(this->One(Kind::kDecrement, id, 20));
  EXPECT_EQ(dec.value, -5);
  EXPECT_EQ(dec.delta, -20);
  EXPECT_GE(dec.updated_at, inc.updated_at);
  const auto set = this->Ok(this->One(Kind::kSet, id, 123456));
  EXPECT_EQ(set.value, 123456);
  EXPECT_EQ(set.delta, 123461);
  EXPECT_EQ(this->Value(id), 123456);
  EXPECT_EQ(this->store().Get(id)->updated_at, set.updated_at);
}

TYPED_TEST_P(CountValueStoreContract, UnknownIdIsNotFoundAndNotCreated) {
  const std::string id = this->Id();
  const auto r = this->Apply({core::Mutation{core::MutationKind::kIncrement, id, 1}});
  EXPECT_EQ(this->Refused(r.outcomes[0]), core::MutationError::kNotFound);
  EXPECT_FALSE(this->store().Get(id));
}

TYPED_TEST_P(CountValueStoreContract, OverflowIsRefusedAndChangesNothing) {
  using Kind = core::MutationKind;
  using Error = core::MutationError;
  const auto kMax = this->kMax, kMin = this->kMin;
  const std::string high = this->Create("high", kMax - 1);
  EXPECT_EQ(this->Ok(this->One(Kind::kIncrement, high, 1)).value, kMax);
  EXPECT_EQ(this->Refused(this->One(Kind::kIncrement, high, 1)), Error::kOverflow);
  EXPECT_EQ(this->Refused(this->One(Kind::kIncrement, high, kMax)), Error::kOverflow);
  EXPECT_EQ(this->Value(high), kMax);

  const std::string low = this->Create("low", kMin + 1);
  EXPECT_EQ(this->Ok(this->One(Kind::kDecrement, low, 1)).value, kMin);
  EXPECT_EQ(this->Refused(this->One(Kind::kDecrement, low, 1)), Error::kOverflow);
  EXPECT_EQ(this->Value(low), kMin);
  EXPECT_EQ(this->Ok(this->One(Kind::kIncrement, low, kMax)).value, -1);
  // A set whose delta leaves int64 is applied; the delta is then unknown.
  const auto far = this->Ok(this->One(Kind::kSet, low, kMax));
  EXPECT_EQ(far.value, kMax);
  EXPECT_EQ(this->Ok(this->One(Kind::kSet, low, kMin)).delta, std::nullopt);
}

TYPED_TEST_P(CountValueStoreContract, ValuesBeyondTwoToThe53StayExact) {
  using Kind = core::MutationKind;
  const auto kMax = this->kMax;
  const std::string id = this->Create("c", 9007199254740993);
  EXPECT_EQ(this->Value(id), 9007199254740993);
  EXPECT_EQ(this->Ok(this->One(Kind::kIncrement, id, 1)).value, 9007199254740994);
  EXPECT_EQ(this->Ok(this->One(Kind::kDecrement, id, 3)).value, 9007199254740991);
  EXPECT_EQ(this->Ok(this->One(Kind::kSet, id, kMax - 2)).value, kMax - 2);
  EXPECT_EQ(this->Ok(this->One(Kind::kIncrement, id, 1)).value, kMax - 1);
  EXPECT_EQ(this->Value(id), kMax - 1);
}

TYPED_TEST_P(CountValueStoreContract, BoundsAreInclusiveAndARefusalChangesNothing) {
  using Kind = core::MutationKind;
  using Error = core::MutationError;
  const std::string id = this->Create("c", 0, -10, 10);
  EXPECT_EQ(this->Ok(this->One(Kind::kIncrement, id, 10)).value, 10);
  EXPECT_EQ(this->Refused(this->One(Kind::kIncrement, id, 1)), Error::kAboveMax);
  EXPECT_EQ(this->Value(id), 10);
  EXPECT_EQ(this->Ok(this->One(Kind::kDecrement, id, 20)).value, -10);
  EXPECT_EQ(this->Refused(this->One(Kind::kDecrement, id, 1)), Error::kBelowMin);
  EXPECT_EQ(this->Value(id), -10);
  EXPECT_EQ(this->Refused(this->One(Kind::kSet, id, 11)), Error::kAboveMax);
  EXPECT_EQ(this->Refused(this->One(Kind::kSet, id, -11)), Error::kBelowMin);
  EXPECT_EQ(this->Refused(this->One(Kind::kSet, id, this->kMax)), Error::kAboveMax);
  EXPECT_EQ(this->Value(id), -10);
  EXPECT_EQ(this->Ok(this->One(Kind::kSet, id, 9)).value, 9);

  // Bounds that differ only beyond double precision are still compared exactly.
  const std::string big = this->Create("big", 9007199254740992, std::nullopt, 9007199254740993);
  EXPECT_EQ(this->Ok(this->One(Kind::kIncrement, big, 1)).value, 9007199254740993);
  EXPECT_EQ(this->Refused(this->One(Kind::kIncrement, big, 1)), Error::kAboveMax);
  EXPECT_EQ(this->Refused(this->One(Kind::kSet, big, 9007199254740994)), Error::kAboveMax);
  EXPECT_EQ(this->Value(big), 9007199254740993);
}

TYPED_TEST_P(CountValueStoreContract, OneBadOperationDoesNotFailTheOthers) {
  using Kind = core::MutationKind;
  using Error = core::MutationError;
  const std::string a = this->Create("a", 1);
  const std::string b = this->Create("b", 5, std::nullopt, 5);
  const auto r = this->Apply({{Kind::kIncrement, a, 1},
                              {Kind::kIncrement, b, 1},
                              {Kind::kSet, this->Id("missing"), 3},
                              {Kind::kIncrement, a, 10}});
  EXPECT_EQ(r.status, core::ApplyResult::Status::kApplied);
  ASSERT_EQ(r.outcomes.size(), 4u);
  EXPECT_EQ(this->Ok(r.outcomes[0]).value, 2);
  EXPECT_EQ(this->Refused(r.outcomes[1]), Error::kAboveMax);
  EXPECT_EQ(this->Refused(r.outcomes[2]), Error::kNotFound);
  EXPECT_EQ(this->Ok(r.outcomes[3]).value, 12);
  EXPECT_EQ(this->Value(a), 12);
  EXPECT_EQ(this->Value(b), 5);
}

TYPED_TEST_P(CountValueStoreContract, LargestBatch) {
  const std::string id = this->Create("c", 0);
  const std::vector<core::Mutation> batch(this->backend_.max_batch(),
                                          core::Mutation{core::MutationKind::kIncrement, id, 2});
  const auto r = this->Apply(batch);
  ASSERT_EQ(r.outcomes.size(), batch.size());
  EXPECT_EQ(this->Ok(r.outcomes.back()).value, std::int64_t(2 * batch.size()));
  EXPECT_EQ(this->Value(id), std::int64_t(2 * batch.size()));
}

TYPED_TEST_P(CountValueStoreContract, IdempotencyKeyReplaysAndRefusesAnotherRequest) {
  using Kind = core::MutationKind;
  const std::string id = this->Create("c", 100, std::nullopt, 105);
  const core::IdempotencyKey key{this->Id("key"), "POST /counts:batch body-1"};
  const std::vector<core::Mutation> request{{Kind::kIncrement, id, 5}, {Kind::kIncrement, id, 1}};
  const auto first = this->Apply(request, &key);
  EXPECT_EQ(first.status, core::ApplyResult::Status::kApplied);
  EXPECT_EQ(this->Ok(first.outcomes[0]).value, 105);
  EXPECT_EQ(this->Refused(first.outcomes[1]), core::MutationError::kAboveMax);

  const auto again = this->Apply(request, &key);
  EXPECT_EQ(again.status, core::ApplyResult::Status::kReplayed);
  ASSERT_EQ(again.outcomes.size(), 2u);
  const auto replayed = this->Ok(again.outcomes[0]);
  EXPECT_EQ(replayed.value, 105);
  EXPECT_EQ(replayed.delta, 5);
  EXPECT_EQ(replayed.updated_at, this->Ok(first.outcomes[0]).updated_at);
  EXPECT_EQ(this->Refused(again.outcomes[1]), core::MutationError::kAboveMax);
  EXPECT_EQ(this->Value(id), 105);

  const core::IdempotencyKey other{key.key, "POST /counts:batch body-2"};
  const auto conflict = this->Apply({{Kind::kSet, id, 0}}, &other);
  EXPECT_EQ(conflict.status, core::ApplyResult::Status::kKeyConflict);
  EXPECT_TRUE(conflict.outcomes.empty());
  EXPECT_EQ(this->Value(id), 105);
}

TYPED_TEST_P(CountValueStoreContract, IdempotencyKeyIsNotRecordedWhenNothingApplied) {
  using Kind = core::MutationKind;
  const std::string id = this->Create("c", 5, std::nullopt, 5);
  const core::IdempotencyKey key{this->Id("key"), "fp"};
  EXPECT_EQ(this->Refused(this->Apply({{Kind::kIncrement, id, 1}}, &key).outcomes[0]),
            core::MutationError::kAboveMax);
  // So a retry after the cause is fixed is applied, not replayed.
  EXPECT_EQ(this->Apply({{Kind::kDecrement, id, 1}}, &key).status,
            core::ApplyResult::Status::kApplied);
  EXPECT_EQ(this->Value(id), 4);
}

TYPED_TEST_P(CountValueStoreContract, UpdateInfoKeepsTheValueWithinTheBounds) {
  using Result = core::CountValueStore::UpdateResult;
  using Kind = core::MutationKind;
  const std::string id = this->Create("c", 50);
  auto info = this->Info(id, 60, 100);
  info.description = "new";
  EXPECT_EQ(this->store().UpdateInfo(info), Result::kValueOutsideBounds);
  info.min_value = -100;
  info.max_value = 49;
  EXPECT_EQ(this->store().UpdateInfo(info), Result::kValueOutsideBounds);
  EXPECT_EQ(this->store().Get(id)->description, "");

  info.max_value = 50;
  EXPECT_EQ(this->store().UpdateInfo(info), Result::kUpdated);
  auto record = this->store().Get(id);
  EXPECT_EQ(record->description, "new");
  EXPECT_EQ(record->min_value, -100);
  EXPECT_EQ(record->max_value, 50);
  EXPECT_EQ(record->value, 50);
  EXPECT_EQ(this->Refused(this->One(Kind::kIncrement, id, 1)), core::MutationError::kAboveMax);

  info.min_value.reset();
  info.max_value.reset();
  EXPECT_EQ(this->store().UpdateInfo(info), Result::kUpdated);
  EXPECT_FALSE(this->store().Get(id)->max_value);
  EXPECT_EQ(this->Ok(this->One(Kind::kIncrement, id, 1)).value, 51);

  info.id = this->Id("missing");
  EXPECT_EQ(this->store().UpdateInfo(info), Result::kNotFound);
  EXPECT_FALSE(this->store().Get(info.id));
}

TYPED_TEST_P(CountValueStoreContract, GetManyKeepsOrderAndMarksMissing) {
  const std::string a = this->Create("a", 1);
  const std::string b = this->Create("b", 2);
  const std::vector<std::string> ids{b, this->Id("missing"), a};
  const auto records = this->store().GetMany(ids);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]->value, 2);
  EXPECT_FALSE(records[1]);
  EXPECT_EQ(records[2]->value, 1);
  EXPECT_TRUE(this->store().GetMany({}).empty());
}

// A sharded counter (docs/API.md, "Hot counters") counts every increment and decrement, says
// it is sharded, and refuses `set`, changing nothing — in every store, whatever it does with
// the flag underneath.
TYPED_TEST_P(CountValueStoreContract, ShardedCounterCountsAndRefusesSet) {
  using Kind = core::MutationKind;
  auto info = this->Info(this->Id());
  info.sharded = true;
  ASSERT_TRUE(this->store().Create(info, 10));
  EXPECT_EQ(this->Ok(this->One(Kind::kIncrement, info.id, 5)).value, 15);
  EXPECT_EQ(this->Ok(this->One(Kind::kDecrement, info.id, 20)).value, -5);
  EXPECT_EQ(std::get<core::MutationError>(this->One(Kind::kSet, info.id, 1)),
            core::MutationError::kSharded);
  const auto record = this->store().Get(info.id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->value, -5);
  EXPECT_TRUE(record->sharded);
  EXPECT_FALSE(this->store().Get(this->Create("plain", 1))->sharded);
}

REGISTER_TYPED_TEST_SUITE_P(CountValueStoreContract, CreateGetDelete, IncrementDecrementSet,
                            UnknownIdIsNotFoundAndNotCreated, OverflowIsRefusedAndChangesNothing,
                            ValuesBeyondTwoToThe53StayExact,
                            BoundsAreInclusiveAndARefusalChangesNothing,
                            OneBadOperationDoesNotFailTheOthers, LargestBatch,
                            IdempotencyKeyReplaysAndRefusesAnotherRequest,
                            IdempotencyKeyIsNotRecordedWhenNothingApplied,
                            UpdateInfoKeepsTheValueWithinTheBounds,
                            GetManyKeepsOrderAndMarksMissing, ShardedCounterCountsAndRefusesSet);

}  // namespace count::testing
