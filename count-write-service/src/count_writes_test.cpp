// The write use cases' own rules, on SQLite stores: a request a sharded value store carried
// out in part (core::PartlyApplied, a Redis Cluster's counters in different groups, a shard
// failing) is answered with the applied-in-part problem naming the operations that were,
// blocking and on the loop; one whose other parts found the Idempotency-Key used by another
// request, with idempotency-key-reused naming them. (The split itself, against a real
// cluster: common/redis/redis_cluster_test.cpp.)
#include "count_writes.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "sqlite/sqlite_stores.hpp"
#include "testing/process.hpp"

namespace count::write {
namespace {

// SQLite's values as a sharded store whose shard of counter "b" fails: a request naming "b"
// and others is carried out for the others only (core::PartlyApplied); `key_reused`: "b"'s
// shard found the key recorded for another request instead.
class ShardedValues final : public core::CountValueStore, public core::AsyncCountValueStore {
 public:
  explicit ShardedValues(core::CountValueStore& values) : values_(values) {}
  bool key_reused = false;

  core::ApplyResult Apply(std::span<const core::Mutation> m,
                          const core::IdempotencyKey* key) override {
    std::vector<core::Mutation> others;
    std::vector<std::size_t> applied;
    for (std::size_t i = 0; i < m.size(); ++i)
      if (m[i].id != "b") {
        others.push_back(m[i]);
        applied.push_back(i);
      }
    if (others.size() == m.size() || others.empty()) return values_.Apply(m, key);
    values_.Apply(others, key);
    throw core::PartlyApplied(applied, key_reused, "b's shard failed");
  }
  void Apply(std::span<const core::Mutation> m, const core::IdempotencyKey* key,
             Done<core::ApplyResult> done) override {
    core::ApplyResult result;
    try {
      result = Apply(m, key);
    } catch (...) {
      return done(std::current_exception(), {});
    }
    done(nullptr, std::move(result));
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

TEST(CountWrites, ARequestCarriedOutInPartIsAProblemNamingTheOperationsThatWere) {
  count::testing::TempDir dir;
  sqlite::SqliteDatabase db{dir.path() / "count.db"};
  sqlite::SqliteCountInfoStore info{db};
  sqlite::SqliteCountValueStore sqlite_values{db, "test"};
  ShardedValues values(sqlite_values);
  CountWrites writes(values, info, false, &values);
  app::CounterLifecycle lifecycle(info, values);
  for (const char* id : {"a", "b", "c"})
    ASSERT_FALSE(lifecycle.Create({id, "", std::nullopt, std::nullopt, {}, {}}, 0).problem);

  const std::vector<core::Mutation> spanning{{core::MutationKind::kIncrement, "a", 1},
                                             {core::MutationKind::kIncrement, "b", 1},
                                             {core::MutationKind::kIncrement, "c", 1}};
  WriteOutcome blocking = writes.Apply(spanning, nullptr);
  ASSERT_TRUE(blocking.problem);
  EXPECT_EQ(blocking.problem->outcome, core::Outcome::kAppliedInPart);
  EXPECT_EQ(blocking.problem->applied, (std::vector<std::size_t>{0, 2}));
  EXPECT_NE(blocking.problem->detail.find("b's shard failed"), std::string::npos);

  std::optional<WriteOutcome> on_loop;
  writes.ApplyOnLoop(spanning, nullptr, [&](std::exception_ptr error, WriteOutcome outcome) {
    EXPECT_FALSE(error);
    on_loop = std::move(outcome);
  });
  ASSERT_TRUE(on_loop && on_loop->problem);
  EXPECT_EQ(on_loop->problem->outcome, core::Outcome::kAppliedInPart);
  EXPECT_EQ(on_loop->problem->applied, (std::vector<std::size_t>{0, 2}));

  values.key_reused = true;
  WriteOutcome reused = writes.Apply(spanning, nullptr);
  ASSERT_TRUE(reused.problem);
  EXPECT_EQ(reused.problem->outcome, core::Outcome::kIdempotencyKeyReused);
  EXPECT_EQ(reused.problem->applied, (std::vector<std::size_t>{0, 2}));

  EXPECT_EQ(values.Get("a")->value, 3);
  EXPECT_EQ(values.Get("b")->value, 0);
  EXPECT_EQ(values.Get("c")->value, 3);
}

}  // namespace
}  // namespace count::write
