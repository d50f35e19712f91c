// The two-store protocol of CounterLifecycle (docs/ARCHITECTURE.md, "Two stores, one
// answer"): a failure at each step leaves both stores changed or neither, and the answer
// says which. The stores are real (SQLite); a wrapper makes one of them fail on cue.
#include "app/counter_lifecycle.hpp"

#include <gtest/gtest.h>

#include "sqlite/sqlite_stores.hpp"
#include "testing/process.hpp"

namespace count::app {
namespace {

using core::StoreUnavailable;

// Passes calls through until told to fail: `fail_after` more calls succeed, then every call
// throws StoreUnavailable (as a stopped PostgreSQL or Redis does).
struct Cue {
  int fail_after = -1;  // -1: never fail
  void Check() {
    if (fail_after == 0) throw StoreUnavailable("stopped on cue");
    if (fail_after > 0) --fail_after;
  }
};

class CuedInfoStore final : public core::CountInfoStore {
 public:
  CuedInfoStore(core::CountInfoStore& inner, Cue& cue) : inner_(inner), cue_(cue) {}
  bool Create(const core::CountInfo& info) override { return cue_.Check(), inner_.Create(info); }
  std::optional<core::CountInfo> Get(std::string_view id) override {
    return cue_.Check(), inner_.Get(id);
  }
  core::CountPage List(std::string_view prefix, std::size_t limit,
                       std::string_view after) override {
    return cue_.Check(), inner_.List(prefix, limit, after);
  }
  bool Update(const core::CountInfo& info) override { return cue_.Check(), inner_.Update(info); }
  bool Delete(std::string_view id) override { return cue_.Check(), inner_.Delete(id); }
  bool Ping() override { return inner_.Ping(); }

 private:
  core::CountInfoStore& inner_;
  Cue& cue_;
};

class CuedValueStore final : public core::CountValueStore {
 public:
  CuedValueStore(core::CountValueStore& inner, Cue& cue) : inner_(inner), cue_(cue) {}
  core::ApplyResult Apply(std::span<const core::Mutation> m,
                          const core::IdempotencyKey* key) override {
    return cue_.Check(), inner_.Apply(m, key);
  }
  std::optional<core::CountRecord> Get(std::string_view id) override {
    return cue_.Check(), inner_.Get(id);
  }
  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override {
    return cue_.Check(), inner_.GetMany(ids);
  }
  bool Create(const core::CountInfo& info, std::int64_t v) override {
    return cue_.Check(), inner_.Create(info, v);
  }
  UpdateResult UpdateInfo(const core::CountInfo& info) override {
    return cue_.Check(), inner_.UpdateInfo(info);
  }
  bool Delete(std::string_view id, bool purge) override {
    return cue_.Check(), inner_.Delete(id, purge);
  }
  bool Ping() override { return inner_.Ping(); }

 private:
  core::CountValueStore& inner_;
  Cue& cue_;
};

class CounterLifecycleTest : public ::testing::Test {
 protected:
  static core::CountInfo Info(std::string id, std::optional<std::int64_t> min = {},
                              std::optional<std::int64_t> max = {}) {
    const auto now = core::Now();
    return {std::move(id), "d", min, max, now, now};
  }
  // Both stores agree that `id` exists (with `max` as its upper bound), or that it does not.
  void ExpectBoth(const std::string& id, std::optional<std::int64_t> max = {}) {
    const auto i = info.Get(id);
    const auto v = values.Get(id);
    ASSERT_TRUE(i && v) << "information " << bool(i) << ", value " << bool(v);
    EXPECT_EQ(i->max_value, max);
    EXPECT_EQ(v->max_value, max);
  }
  void ExpectNeither(const std::string& id) {
    EXPECT_FALSE(info.Get(id));
    EXPECT_FALSE(values.Get(id));
  }

  testing::TempDir dir;
  sqlite::SqliteDatabase db{dir.path() / "count.db"};
  sqlite::SqliteCountInfoStore info{db};
  sqlite::SqliteCountValueStore values{db, "test"};
  Cue info_cue, value_cue;
  CuedInfoStore cued_info{info, info_cue};
  CuedValueStore cued_values{values, value_cue};
  CounterLifecycle lifecycle{cued_info, cued_values};
};

TEST_F(CounterLifecycleTest, CreateWritesBoth) {
  const auto c = lifecycle.Create(Info("a", 0, 10), 5);
  ASSERT_FALSE(c.problem);
  ExpectBoth("a", 10);
  EXPECT_EQ(values.Get("a")->value, 5);
  EXPECT_EQ(lifecycle.Create(Info("a"), 0).problem->outcome, core::Outcome::kAlreadyExists);
}

TEST_F(CounterLifecycleTest, CreateWhenTheInformationStoreFailsChangesNothing) {
  info_cue.fail_after = 0;
  EXPECT_THROW(lifecycle.Create(Info("a"), 0), StoreUnavailable);  // answered 503
  ExpectNeither("a");
}

TEST_F(CounterLifecycleTest, CreateWhenTheInformationStoreStopsBetweenTheWritesCompletes) {
  info_cue.fail_after = 1;  // its write succeeds, then it is down
  const auto c = lifecycle.Create(Info("a"), 0);
  EXPECT_FALSE(c.problem);
  ExpectBoth("a");
}

TEST_F(CounterLifecycleTest, CreateWhenTheValueStoreFailsIsUndone) {
  value_cue.fail_after = 0;
  const auto c = lifecycle.Create(Info("a"), 0);
  ASSERT_TRUE(c.problem);
  EXPECT_EQ(c.problem->outcome, core::Outcome::kUnavailable);
  EXPECT_NE(c.problem->detail.find("nothing was changed"), std::string::npos);
  ExpectNeither("a");
}

TEST_F(CounterLifecycleTest, CreateHalfDoneSaysSoAndItsRetryCompletesIt) {
  value_cue.fail_after = 0;
  info_cue.fail_after = 1;  // the information is written, then its undo fails
  const auto c = lifecycle.Create(Info("a"), 3);
  ASSERT_TRUE(c.problem);
  EXPECT_NE(c.problem->detail.find("half done"), std::string::npos) << c.problem->detail;
  value_cue.fail_after = info_cue.fail_after = -1;
  EXPECT_FALSE(lifecycle.Create(Info("a"), 3).problem);
  ExpectBoth("a");
  EXPECT_EQ(values.Get("a")->value, 3);
}

TEST_F(CounterLifecycleTest, UpdateRefusedByTheValueStoreRestoresTheInformation) {
  ASSERT_FALSE(lifecycle.Create(Info("a"), 50).problem);
  const auto c = lifecycle.Update(*info.Get("a"), Info("a", 0, 10));
  ASSERT_TRUE(c.problem);
  EXPECT_EQ(c.problem->outcome, core::Outcome::kOutOfBounds);
  ExpectBoth("a", std::nullopt);
}

TEST_F(CounterLifecycleTest, UpdateWhenTheValueStoreFailsIsUndone) {
  ASSERT_FALSE(lifecycle.Create(Info("a"), 5).problem);
  value_cue.fail_after = 0;
  const auto c = lifecycle.Update(*info.Get("a"), Info("a", 0, 10));
  ASSERT_TRUE(c.problem);
  EXPECT_EQ(c.problem->outcome, core::Outcome::kUnavailable);
  ExpectBoth("a", std::nullopt);
  value_cue.fail_after = -1;
  EXPECT_FALSE(lifecycle.Update(*info.Get("a"), Info("a", 0, 10)).problem);
  ExpectBoth("a", 10);
}

TEST_F(CounterLifecycleTest, UpdateWhenTheInformationStoreStopsBetweenTheWritesCompletes) {
  ASSERT_FALSE(lifecycle.Create(Info("a"), 5).problem);
  const auto before = *info.Get("a");
  info_cue.fail_after = 1;  // its Update succeeds, then it is down
  EXPECT_FALSE(lifecycle.Update(before, Info("a", 0, 10)).problem);
  ExpectBoth("a", 10);
}

TEST_F(CounterLifecycleTest, DeleteWhenTheValueStoreFailsIsUndone) {
  ASSERT_FALSE(lifecycle.Create(Info("a"), 5).problem);
  value_cue.fail_after = 0;
  const auto c = lifecycle.Delete("a", false);
  ASSERT_TRUE(c.problem);
  EXPECT_NE(c.problem->detail.find("nothing was changed"), std::string::npos);
  ExpectBoth("a");
  value_cue.fail_after = -1;
  EXPECT_FALSE(lifecycle.Delete("a", false).problem);
  ExpectNeither("a");
  EXPECT_EQ(lifecycle.Delete("a", false).problem->outcome, core::Outcome::kNotFound);
}

TEST_F(CounterLifecycleTest, DeleteWhenTheInformationStoreStopsBetweenTheWritesCompletes) {
  ASSERT_FALSE(lifecycle.Create(Info("a"), 5).problem);
  info_cue.fail_after = 2;  // Get and Delete succeed, then it is down
  EXPECT_FALSE(lifecycle.Delete("a", false).problem);
  ExpectNeither("a");
}

}  // namespace
}  // namespace count::app
