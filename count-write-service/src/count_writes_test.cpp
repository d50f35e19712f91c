// The write use cases' own rules, on SQLite stores: a request a sharded value store cannot
// apply atomically (core::SpansShards, a Redis Cluster's counters in different groups) is
// answered with the validation problem, blocking and on the loop, and changes nothing.
#include "count_writes.hpp"

#include <gtest/gtest.h>

#include <set>

#include "sqlite/sqlite_stores.hpp"
#include "testing/process.hpp"

namespace count::write {
namespace {

bool Spans(std::span<const core::Mutation> mutations) {
  std::set<std::string> ids;
  for (const auto& m : mutations) ids.insert(m.id);
  return ids.size() > 1;
}

// SQLite's values, refusing every request of more than one counter as a sharded store would.
class ShardedValues final : public core::CountValueStore, public core::AsyncCountValueStore {
 public:
  explicit ShardedValues(core::CountValueStore& values) : values_(values) {}
  core::ApplyResult Apply(std::span<const core::Mutation> m,
                          const core::IdempotencyKey* key) override {
    if (Spans(m)) throw core::SpansShards();
    return values_.Apply(m, key);
  }
  void Apply(std::span<const core::Mutation> m, const core::IdempotencyKey* key,
             Done<core::ApplyResult> done) override {
    if (Spans(m)) return done(std::make_exception_ptr(core::SpansShards()), {});
    done(nullptr, values_.Apply(m, key));
  }
  std::optional<core::CountRecord> Get(std::string_view id) override { return values_.Get(id); }
  void Get(std::string_view id, Done<std::optional<core::CountRecord>> done) override {
    done(nullptr, values_.Get(id));
  }
  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override {
    return values_.GetMany(ids);
  }
  void GetMany(std::span<const std::string> ids,
               Done<std::vector<std::optional<core::CountRecord>>> done) override {
    done(nullptr, values_.GetMany(ids));
  }
  bool Create(const core::CountInfo& info, std::int64_t v) override {
    return values_.Create(info, v);
  }
  UpdateResult UpdateInfo(const core::CountInfo& info) override { return values_.UpdateInfo(info); }
  bool Delete(std::string_view id, bool purge) override { return values_.Delete(id, purge); }
  bool Ping() override { return values_.Ping(); }

 private:
  core::CountValueStore& values_;
};

TEST(CountWrites, ARequestSpanningShardsIsAValidationProblemAndChangesNothing) {
  count::testing::TempDir dir;
  sqlite::SqliteDatabase db{dir.path() / "count.db"};
  sqlite::SqliteCountInfoStore info{db};
  sqlite::SqliteCountValueStore sqlite_values{db, "test"};
  ShardedValues values(sqlite_values);
  CountWrites writes(values, info, false, &values);
  app::CounterLifecycle lifecycle(info, values);
  for (const char* id : {"a", "b"})
    ASSERT_FALSE(lifecycle.Create({id, "", std::nullopt, std::nullopt, {}, {}}, 0).problem);

  const std::vector<core::Mutation> spanning{{core::MutationKind::kIncrement, "a", 1},
                                             {core::MutationKind::kIncrement, "b", 1}};
  WriteOutcome blocking = writes.Apply(spanning, nullptr);
  ASSERT_TRUE(blocking.problem);
  EXPECT_EQ(blocking.problem->outcome, core::Outcome::kValidation);
  EXPECT_NE(blocking.problem->detail.find("shards"), std::string::npos);

  std::optional<WriteOutcome> on_loop;
  writes.ApplyOnLoop(spanning, nullptr, [&](std::exception_ptr error, WriteOutcome outcome) {
    EXPECT_FALSE(error);
    on_loop = std::move(outcome);
  });
  ASSERT_TRUE(on_loop && on_loop->problem);
  EXPECT_EQ(on_loop->problem->outcome, core::Outcome::kValidation);

  EXPECT_EQ(values.Get("a")->value, 0);
  EXPECT_EQ(values.Get("b")->value, 0);
  const core::Mutation one{core::MutationKind::kIncrement, "a", 2};
  WriteOutcome applied = writes.Apply(std::span(&one, 1), nullptr);
  EXPECT_FALSE(applied.problem);
  EXPECT_EQ(values.Get("a")->value, 2);
}

}  // namespace
}  // namespace count::write
