#include "sqlite/sqlite_stores.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "sqlite/sqlite_history_store.hpp"
#include "sqlite/sqlite_loop_store.hpp"
#include "testing/count_value_store_contract.hpp"
#include "testing/process.hpp"

namespace count::sqlite {
namespace {

// Checkpoints run on their own thread (sqlite_database.hpp), yet the WAL must not grow with
// the commits: without a checkpoint, these commits (a page each) would leave ~80 MB in it.
TEST(SqliteDatabase, TheWalStaysBoundedWhileCommitsGoOnWithoutAPause) {
  testing::TempDir dir;
  const auto file = dir.path() / "count.db";
  const auto wal = dir.path() / "count.db-wal";
  constexpr int kCommits = 20'000;
  std::uintmax_t largest = 0;
  {
    SqliteDatabase db(file);
    db.Exec("CREATE TABLE filler (data BLOB NOT NULL)");
    for (int i = 0; i < kCommits; ++i) {
      std::lock_guard lock(db.mutex());
      db.Exec("INSERT INTO filler (data) VALUES (zeroblob(4000))");
      if (i % 100 == 0) largest = std::max(largest, std::filesystem::file_size(wal));
    }
  }
  EXPECT_LT(largest, 40u << 20);
  EXPECT_FALSE(std::filesystem::exists(wal));  // closing checkpointed it all
  SqliteDatabase db(file);
  Statement count(db, "SELECT count(*) FROM filler");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.Int(0), kCommits);
}

TEST(ConnectionLock, UrgentHoldersGoFirstButNotTwiceWhileAnOrdinaryOneWaits) {
  ConnectionLock connection;
  std::vector<std::string> order;  // appended while holding `connection`
  auto until_waiting = [&](int n) {
    while (connection.waiting() < n) std::this_thread::yield();
  };
  connection.lock();
  std::thread request([&] {
    std::lock_guard lock(connection);
    order.push_back("request");
  });
  until_waiting(1);
  auto pipeline = [&](std::string name) {
    return std::thread([&, name] {
      ConnectionLock::Urgent lock(connection);
      order.push_back(name);
    });
  };
  std::thread relay = pipeline("urgent"), rollup = pipeline("urgent");
  until_waiting(3);
  connection.unlock();
  for (auto* t : {&request, &relay, &rollup}) t->join();
  EXPECT_EQ(order, (std::vector<std::string>{"urgent", "request", "urgent"}));
}

using core::Mutation;
using core::MutationKind;

class SqliteStoresTest : public ::testing::Test {
 protected:
  core::CountInfo Info(std::string id, std::optional<std::int64_t> min = {},
                       std::optional<std::int64_t> max = {}) {
    const auto now = core::Now();
    return {std::move(id), "d", min, max, now, now};
  }
  void Create(std::string id, std::int64_t initial, std::optional<std::int64_t> min = {},
              std::optional<std::int64_t> max = {}) {
    ASSERT_TRUE(info.Create(Info(id, min, max)));
    ASSERT_TRUE(values.Create(Info(id, min, max), initial));
  }
  core::ApplyResult One(Mutation m, const core::IdempotencyKey* key = nullptr) {
    return values.Apply(std::span(&m, 1), key);
  }

  testing::TempDir dir;
  SqliteDatabase db{dir.path() / "count.db"};
  SqliteCountInfoStore info{db};
  SqliteCountValueStore values{db, "test"};
};

TEST_F(SqliteStoresTest, ListPagesByPrefixLiterally) {
  for (int i = 0; i < 25; ++i) Create("p_" + std::to_string(100 + i), 0);
  Create("pX", 0);
  Create("q", 0);
  std::vector<std::string> seen;
  std::string cursor;
  for (;;) {
    auto page = info.List("p_", 10, cursor);
    for (auto& i : page.items) seen.push_back(i.id);
    if (!page.next_cursor) break;
    cursor = *page.next_cursor;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "p_100");
  EXPECT_EQ(seen.back(), "p_124");
}

TEST_F(SqliteStoresTest, ConcurrentIncrementsAreExact) {
  Create("e", 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) One({MutationKind::kIncrement, "e", 1});
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(values.Get("e")->value, 2000);
}

// count-system's events (count-system/src/main.cpp): the history in the change's transaction.
// Record fails on cue; Committed keeps what it was told, in order.
class HistorySink final : public EventSink {
 public:
  explicit HistorySink(SqliteHistoryStore& history) : history_(history) {}
  void Record(std::span<const core::Event> events) override {
    if (fail) throw core::StoreUnavailable("history: failing on cue");
    history_.RecordInTransaction(events);
  }
  void Committed(std::span<const core::Event> events) override {
    committed.insert(committed.end(), events.begin(), events.end());
  }
  bool fail = false;
  std::vector<core::Event> committed;

 private:
  SqliteHistoryStore& history_;
};

class SqliteHistoryInTransactionTest : public SqliteStoresTest {
 protected:
  std::vector<core::Bucket> Minutes(const std::string& id) {
    const auto now = core::Now();
    return history.Series(id, now - std::chrono::hours(1), now + std::chrono::hours(1),
                          core::Unit::kMinute);
  }
  std::int64_t Summed(const std::string& id) {
    std::int64_t sum = 0;
    for (const auto& b : Minutes(id)) sum += b.sum_delta;
    return sum;
  }
  SqliteHistoryStore history{db};
  HistorySink sink{history};
  SqliteCountValueStore recorded{db, "test", &sink};
};

TEST_F(SqliteHistoryInTransactionTest, EveryChangeIsInTheHistoryOnceCommitted) {
  ASSERT_TRUE(info.Create(Info("h")));
  ASSERT_TRUE(recorded.Create(Info("h"), 5));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        Mutation m{MutationKind::kIncrement, "h", 2};
        recorded.Apply(std::span(&m, 1), nullptr);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(recorded.Get("h")->value, 805);
  EXPECT_EQ(Summed("h"), 805) << "the created event's delta and every increment's";
  ASSERT_EQ(sink.committed.size(), 401u);
  for (std::size_t i = 1; i < sink.committed.size(); ++i)
    ASSERT_EQ(sink.committed[i].value, sink.committed[i - 1].value + 2) << "in commit order";
  EXPECT_FALSE(Minutes("h").empty());

  EXPECT_TRUE(recorded.Delete("h", /*purge_history=*/true));
  EXPECT_TRUE(Minutes("h").empty()) << "purged with the deletion, in its transaction";
  EXPECT_EQ(sink.committed.back().type, core::EventType::kDeleted);
}

TEST_F(SqliteHistoryInTransactionTest, AChangeWhoseHistoryFailsIsNotMade) {
  ASSERT_TRUE(info.Create(Info("f")));
  ASSERT_TRUE(recorded.Create(Info("f"), 0));
  sink.fail = true;
  Mutation m{MutationKind::kIncrement, "f", 7};
  EXPECT_THROW(recorded.Apply(std::span(&m, 1), nullptr), core::StoreUnavailable);
  EXPECT_THROW(recorded.Delete("f", false), core::StoreUnavailable);
  sink.fail = false;
  EXPECT_EQ(recorded.Get("f")->value, 0) << "neither the value nor its history changed";
  EXPECT_EQ(Summed("f"), 0);
  EXPECT_EQ(sink.committed.size(), 1u) << "only the creation was committed";
  recorded.Apply(std::span(&m, 1), nullptr);
  EXPECT_EQ(recorded.Get("f")->value, 7);
  EXPECT_EQ(Summed("f"), 7);
}

// The records kept for the loops (SqliteCountValueStore::Cached) are the committed ones.
TEST_F(SqliteHistoryInTransactionTest, KeptRecordsFollowEveryCommitAndNothingElse) {
  ASSERT_TRUE(info.Create(Info("k")));
  ASSERT_TRUE(recorded.Create(Info("k"), 1));
  EXPECT_FALSE(recorded.Cached("k")) << "kept only once read";
  const std::string ids[] = {"k"};
  recorded.GetMany(ids);
  ASSERT_TRUE(recorded.Cached("k"));
  EXPECT_EQ(recorded.Cached("k")->value, 1);

  Mutation m{MutationKind::kIncrement, "k", 2};
  recorded.Apply(std::span(&m, 1), nullptr);
  EXPECT_EQ(recorded.Cached("k")->value, 3);
  EXPECT_EQ(recorded.Cached("k")->updated_at, recorded.Get("k")->updated_at);

  sink.fail = true;  // rolled back: the kept record stays the committed one
  EXPECT_THROW(recorded.Apply(std::span(&m, 1), nullptr), core::StoreUnavailable);
  sink.fail = false;
  EXPECT_EQ(recorded.Cached("k")->value, 3);

  auto changed = Info("k", 0, 100);
  changed.description = "changed";
  ASSERT_EQ(recorded.UpdateInfo(changed), core::CountValueStore::UpdateResult::kUpdated);
  EXPECT_FALSE(recorded.Cached("k")) << "dropped with its description and bounds";
  recorded.GetMany(ids);
  EXPECT_EQ(recorded.Cached("k")->description, "changed");
  EXPECT_EQ(recorded.Cached("k")->max_value, 100);

  ASSERT_TRUE(recorded.Delete("k", false));
  EXPECT_FALSE(recorded.Cached("k"));
  ASSERT_TRUE(recorded.Create(Info("k"), 9));
  EXPECT_FALSE(recorded.Cached("k"));
  recorded.GetMany(ids);
  EXPECT_EQ(recorded.Cached("k")->value, 9);
}

// What `call(done)` answers through `done`, waited for.
template <class T, class Call>
T Await(Call call) {
  std::promise<T> answer;
  call([&answer](std::exception_ptr error, T result) {
    if (error)
      answer.set_exception(error);
    else
      answer.set_value(std::move(result));
  });
  return answer.get_future().get();
}

// Many writes queued at once (committed together by the writer thread): each gets its own
// answer and the total is exact.
TEST_F(SqliteStoresTest, TheLoopStoreAnswersEachQueuedWriteWithItsOwnValue) {
  Create("q", 0);
  SqliteLoopCountValueStore loop(values);
  constexpr int kWrites = 2000;
  const Mutation increment{MutationKind::kIncrement, "q", 1};
  std::vector<std::int64_t> seen(kWrites, -1);
  std::promise<void> all;
  std::atomic<int> left{kWrites};
  for (int i = 0; i < kWrites; ++i)
    loop.Apply({&increment, 1}, nullptr, [&, i](std::exception_ptr e, core::ApplyResult r) {
      if (!e) seen[i] = std::get<core::Applied>(r.outcomes.at(0)).value;
      if (--left == 0) all.set_value();
    });
  all.get_future().get();
  std::sort(seen.begin(), seen.end());
  for (int i = 0; i < kWrites; ++i) ASSERT_EQ(seen[i], i + 1) << "each write its own value";
  EXPECT_EQ(values.Get("q")->value, kWrites);
}

// Reads queued together are read at once (one read transaction); each gets its own part.
TEST_F(SqliteStoresTest, TheLoopStoreAnswersEachQueuedReadWithItsOwnRecords) {
  Create("a", 1);
  Create("b", 2);
  SqliteLoopCountValueStore loop(values);
  constexpr int kReads = 1000;
  std::vector<std::string> seen(kReads);
  std::promise<void> all;
  std::atomic<int> left{kReads};
  const auto text = [](const std::optional<core::CountRecord>& r) {
    return r ? r->id + "=" + std::to_string(r->value) : std::string("-");
  };
  const std::vector<std::string> many{"b", "missing", "a"};
  for (int i = 0; i < kReads; ++i) {
    const auto answered = [&, i](std::string s) {
      seen[i] = std::move(s);
      if (--left == 0) all.set_value();
    };
    if (i % 3 == 2)
      loop.GetMany(many, [&, answered](std::exception_ptr e, auto records) {
        std::string s = e ? "error" : "";
        for (const auto& r : records) s += text(r) + ";";
        answered(s);
      });
    else
      loop.Get(i % 3 == 0 ? "a" : "nope", [&, answered](std::exception_ptr e, auto record) {
        answered(e ? "error" : text(record));
      });
  }
  all.get_future().get();
  for (int i = 0; i < kReads; ++i)
    ASSERT_EQ(seen[i], i % 3 == 0 ? "a=1" : i % 3 == 1 ? "-" : "b=2;-;a=1;") << i;
}

}  // namespace

// The counting rule, as count-system's loop store obeys it: the contract suite through a
// CountValueStore whose request-path calls go through SqliteLoopCountValueStore (creation
// and the rest through the blocking store, as in count-system).
class LoopBackedValues : public core::CountValueStore {
 public:
  explicit LoopBackedValues(SqliteCountValueStore& values) : values_(values), loop_(values) {}
  core::ApplyResult Apply(std::span<const core::Mutation> m,
                          const core::IdempotencyKey* key) override {
    return Await<core::ApplyResult>([&](auto done) { loop_.Apply(m, key, done); });
  }
  std::optional<core::CountRecord> Get(std::string_view id) override {
    return Await<std::optional<core::CountRecord>>([&](auto done) { loop_.Get(id, done); });
  }
  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override {
    return Await<std::vector<std::optional<core::CountRecord>>>(
        [&](auto done) { loop_.GetMany(ids, done); });
  }
  bool Create(const core::CountInfo& info, std::int64_t v) override {
    return values_.Create(info, v);
  }
  UpdateResult UpdateInfo(const core::CountInfo& info) override { return values_.UpdateInfo(info); }
  bool Delete(std::string_view id, bool purge) override { return values_.Delete(id, purge); }
  bool Ping() override { return values_.Ping(); }

 private:
  SqliteCountValueStore& values_;
  SqliteLoopCountValueStore loop_;
};

struct SqliteLoopValueBackend {
  testing::TempDir dir;
  SqliteDatabase db{dir.path() / "count.db"};
  SqliteCountValueStore values{db, "test"};
  LoopBackedValues loop{values};
  core::CountValueStore& store() { return loop; }
  std::size_t max_batch() const { return SqliteCountValueStore::kMaxBatch; }
};

// The counting rule, as every CountValueStore obeys it.
struct SqliteValueBackend {
  testing::TempDir dir;
  SqliteDatabase db{dir.path() / "count.db"};
  SqliteCountValueStore values{db, "test"};
  core::CountValueStore& store() { return values; }
  std::size_t max_batch() const { return 1000; }  // the API's largest batch
};

}  // namespace count::sqlite

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, CountValueStoreContract, count::sqlite::SqliteValueBackend);
INSTANTIATE_TYPED_TEST_SUITE_P(SqliteLoop, CountValueStoreContract,
                               count::sqlite::SqliteLoopValueBackend);
}  // namespace count::testing
