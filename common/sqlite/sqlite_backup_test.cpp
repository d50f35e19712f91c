#include "sqlite/sqlite_backup.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "sqlite/sqlite_database.hpp"
#include "sqlite/sqlite_history_store.hpp"
#include "sqlite/sqlite_stores.hpp"
#include "testing/process.hpp"

namespace count::sqlite {
namespace {

namespace fs = std::filesystem;
using core::Mutation;
using core::MutationKind;

constexpr int kCounters = 4;

std::string Id(int i) { return "c" + std::to_string(i); }

void CreateCounters(SqliteDatabase& db) {
  SqliteCountInfoStore info(db);
  SqliteCountValueStore values(db, "test");
  const auto now = core::Now();
  for (int i = 0; i < kCounters; ++i) {
    const core::CountInfo c{Id(i), "counter " + std::to_string(i), std::nullopt, std::nullopt, now,
                            now};
    ASSERT_TRUE(info.Create(c));
    ASSERT_TRUE(values.Create(c, 0));
  }
}

std::int64_t Scalar(SqliteDatabase& db, std::string_view sql, std::string_view id) {
  Statement s(db, sql);
  s.Bind(1, id);
  return s.Step() ? s.Int(0) : -1;
}

// The reconcile rule on one database: a counter's value equals the sum of its events' deltas,
// counting each event once whether the history already folded it or it still waits in the
// outbox (the relay records a batch in the history before deleting it from the outbox).
void ExpectValuesAgreeWithEvents(const fs::path& file) {
  SqliteDatabase db(file);
  for (int i = 0; i < kCounters; ++i) {
    const auto value = Scalar(db, "SELECT value FROM count_value WHERE id = ?1", Id(i));
    const auto folded = Scalar(
        db, "SELECT coalesce(sum(sum_delta), 0) FROM history_minute WHERE count_id = ?1", Id(i));
    const auto waiting = Scalar(db,
                                "SELECT coalesce(sum(delta), 0) FROM outbox WHERE count_id = ?1 "
                                "AND event_id NOT IN (SELECT event_id FROM history_event)",
                                Id(i));
    EXPECT_EQ(value, folded + waiting) << Id(i) << " in " << file;
  }
}

std::int64_t SumOfValues(const fs::path& file) {
  SqliteDatabase db(file);
  Statement s(db, "SELECT coalesce(sum(value), 0) FROM count_value");
  s.Step();
  return s.Int(0);
}

void SetUserVersion(const fs::path& file, int version) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  const auto sql = "PRAGMA user_version = " + std::to_string(version);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

class SqliteBackupTest : public ::testing::Test {
 protected:
  // A backup of a small database (4 counters at 0), taken with nothing else running.
  fs::path SmallBackup() {
    const auto live = dir.path() / "live" / "count.db";
    fs::create_directories(live.parent_path());
    {
      SqliteDatabase db(live);
      CreateCounters(db);
    }
    const auto file = dir.path() / "small.backup";
    Backup(live, file);
    return file;
  }

  testing::TempDir dir;
};

TEST_F(SqliteBackupTest, BackupUnderConcurrentWritesIsOneConsistentMoment) {
  const auto live = dir.path() / "count.db";
  SqliteDatabase db(live);
  CreateCounters(db);
  SqliteCountValueStore values(db, "test");
  SqliteEventOutbox outbox(db);
  SqliteHistoryStore history(db);

  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> acknowledged{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int n = 0; !stop; ++n) {
        const Mutation m{MutationKind::kIncrement, Id((t + n) % kCounters), 1 + n % 3};
        const auto result = values.Apply(std::span(&m, 1), nullptr);
        if (!std::holds_alternative<core::Applied>(result.outcomes.at(0))) continue;
        acknowledged += m.operand;
      }
    });
  threads.emplace_back([&] {  // the relay's steps: history first, then the outbox delete
    while (!stop) {
      const auto batch = outbox.Pending(200);
      history.Record(batch);
      outbox.Acknowledge(batch);
    }
  });

  struct Taken {
    fs::path file;
    std::int64_t before = 0, after = 0;
  };
  std::vector<Taken> backups;
  for (int b = 0; b < 5; ++b) {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    Taken taken{dir.path() / ("backup-" + std::to_string(b) + ".db")};
    taken.before = acknowledged;
    const auto report = Backup(live, taken.file);
    taken.after = acknowledged;
    EXPECT_EQ(report.schema_version, SchemaVersion());
    EXPECT_EQ(report.bytes, fs::file_size(taken.file));
    backups.push_back(taken);
  }
  stop = true;
  for (auto& t : threads) t.join();

  ASSERT_GT(acknowledged.load(), backups.back().after) << "writes went on after the backups";
  for (const auto& taken : backups) {
    EXPECT_FALSE(fs::exists(taken.file.string() + "-wal")) << "a backup is one file";
    ExpectValuesAgreeWithEvents(taken.file);
    // The moment the copy shows lies within the backup call: every write acknowledged before
    // it is in, none acknowledged after it.
    const auto sum = SumOfValues(taken.file);
    EXPECT_GE(sum, taken.before);
    EXPECT_LE(sum, taken.after + 4 * 3);  // a write applied but not yet counted per writer
  }
}

TEST_F(SqliteBackupTest, RestoreIntoAFreshDirectoryGivesTheSameDatabase) {
  const auto backup = SmallBackup();
  const auto target = dir.path() / "fresh" / "count.db";
  const auto report = Restore(backup, target, /*force=*/false);
  EXPECT_EQ(report.backup_version, SchemaVersion());
  EXPECT_EQ(report.schema_version, SchemaVersion());
  SqliteDatabase db(target);
  SqliteCountInfoStore info(db);
  EXPECT_EQ(info.List("", 100, "").items.size(), std::size_t{kCounters});
  EXPECT_FALSE(fs::exists(target.string() + ".restoring"));
}

TEST_F(SqliteBackupTest, BackupNeverOverwritesAFile) {
  const auto backup = SmallBackup();
  const auto size = fs::file_size(backup);
  EXPECT_THROW(Backup(dir.path() / "live" / "count.db", backup), BackupError);
  EXPECT_EQ(fs::file_size(backup), size);
  EXPECT_THROW(Backup(dir.path() / "missing.db", dir.path() / "x.backup"), BackupError);
  EXPECT_FALSE(fs::exists(dir.path() / "missing.db")) << "the source is never created";
}

TEST_F(SqliteBackupTest, RestoreRefusesANonEmptyDirectoryUnlessForced) {
  const auto backup = SmallBackup();
  const auto data = dir.path() / "data";
  fs::create_directories(data);
  {
    SqliteDatabase old(data / "count.db");  // another installation's database, one counter
    SqliteCountInfoStore info(old);
    const auto now = core::Now();
    ASSERT_TRUE(info.Create({"old", "", std::nullopt, std::nullopt, now, now}));
  }
  std::ofstream(data / "admin.key") << "cms_kept\n";
  try {
    Restore(backup, data / "count.db", /*force=*/false);
    FAIL() << "restored over a non-empty directory";
  } catch (const BackupError& e) {
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
  }
  {
    SqliteDatabase old(data / "count.db");
    EXPECT_TRUE(SqliteCountInfoStore(old).Get("old")) << "the refusal changed nothing";
  }

  Restore(backup, data / "count.db", /*force=*/true);
  SqliteDatabase restored(data / "count.db");
  SqliteCountInfoStore info(restored);
  EXPECT_FALSE(info.Get("old"));
  EXPECT_TRUE(info.Get(Id(0)));
  std::string key;
  std::getline(std::ifstream(data / "admin.key"), key);
  EXPECT_EQ(key, "cms_kept") << "--force replaces the database only";
}

TEST_F(SqliteBackupTest, RestoreRefusesADatabaseInUseEvenWithForce) {
  const auto backup = SmallBackup();
  const auto target = dir.path() / "busy" / "count.db";
  fs::create_directories(target.parent_path());
  SqliteDatabase running(target);
  try {
    Restore(backup, target, /*force=*/true);
    FAIL() << "restored under a running process";
  } catch (const BackupError& e) {
    EXPECT_NE(std::string(e.what()).find("running"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(SqliteCountInfoStore(running).List("", 10, "").items.empty());
}

TEST_F(SqliteBackupTest, RestoreRefusesANewerSchemaNamingBothVersions) {
  const auto backup = SmallBackup();
  SetUserVersion(backup, SchemaVersion() + 1);
  const auto target = dir.path() / "newer" / "count.db";
  try {
    Restore(backup, target, /*force=*/false);
    FAIL() << "restored a newer schema";
  } catch (const BackupError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("schema version " + std::to_string(SchemaVersion() + 1)),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("count-system's " + std::to_string(SchemaVersion())), std::string::npos)
        << message;
  }
  EXPECT_FALSE(fs::exists(target));
  // `count-system up` on such a file refuses too, rather than run an unknown schema.
  EXPECT_THROW(SqliteDatabase{backup}, core::StoreUnavailable);
}

TEST_F(SqliteBackupTest, RestoreMigratesAnOlderSchema) {
  // A database as the first release wrote it (schema version 1: no outbox, no history, no
  // copy of the description beside the value).
  const auto old = dir.path() / "v1.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(old.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, R"sql(
CREATE TABLE count_info (id TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '',
  min_value INTEGER, max_value INTEGER, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE count_value (id TEXT PRIMARY KEY, value INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,
  outcomes TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO count_info VALUES ('v1', 'from release 1', 0, 100, 1, 1);
INSERT INTO count_value VALUES ('v1', 42, 1, 1);
PRAGMA user_version = 1;
)sql",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  const auto target = dir.path() / "migrated" / "count.db";
  const auto report = Restore(old, target, /*force=*/false);
  EXPECT_EQ(report.backup_version, 1);
  EXPECT_EQ(report.schema_version, SchemaVersion());
  SqliteDatabase db(target);
  SqliteCountValueStore values(db, "test");
  const auto record = values.Get("v1");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->value, 42);
  EXPECT_EQ(record->description, "from release 1");
  EXPECT_EQ(record->max_value, 100);
}

TEST_F(SqliteBackupTest, RestoreRefusesAFileThatIsNotABackup) {
  const auto junk = dir.path() / "junk";
  std::ofstream(junk) << "not a database at all, just some text that is long enough";
  EXPECT_THROW(Restore(junk, dir.path() / "a" / "count.db", false), BackupError);
  const auto empty = dir.path() / "empty.db";
  { SqliteDatabase db(empty); }
  SetUserVersion(empty, 0);
  EXPECT_THROW(Restore(empty, dir.path() / "b" / "count.db", false), BackupError);
  EXPECT_THROW(Restore(dir.path() / "none", dir.path() / "c" / "count.db", false), BackupError);
  EXPECT_FALSE(fs::exists(dir.path() / "a" / "count.db"));
  EXPECT_FALSE(fs::exists(dir.path() / "b" / "count.db"));
}

}  // namespace
}  // namespace count::sqlite
