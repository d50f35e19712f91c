#pragma once
// One SQLite database file (WAL) shared by the standalone stores. Statements run under
// one mutex: SQLite allows a single writer anyway, and an in-process call takes
// microseconds, so serialising is simpler and as fast as a pool here.
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace count::sqlite {

class SqliteDatabase;

// A prepared statement of `db`'s connection, taken from the connection's kept statements of
// the same text (or prepared) and given back to them, reset, when it goes.
class Statement {
 public:
  Statement(SqliteDatabase& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, std::int64_t value);
  Statement& Bind(int index, std::optional<std::int64_t> value);
  bool Step();  // true while a row is available
  void Run();   // steps to completion
  std::int64_t Int(int column) const;
  std::optional<std::int64_t> OptInt(int column) const;
  std::string Text(int column) const;
  void Reset();

 private:
  SqliteDatabase& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// The schema version this build writes: the number of migrations it knows.
int SchemaVersion();

// The connection's memory (count-system: SQLITE_CACHE_MB, SQLITE_MMAP_MB; docs/OPERATIONS.md).
struct SqliteSettings {
  // SQLite's page cache. Its default, 2 MB, is soon outgrown by the indexes every event
  // touches (the history's event ids), and each touch of an evicted page reads it again.
  std::int64_t cache_mb = 64;
  // How much of the file is read through a memory map instead of read() into the cache;
  // 0 turns it off.
  std::int64_t mmap_mb = 256;
};

// The connection's lock. Urgent holders (the checkpoint's last copy; a relay, where one reads
// SqliteEventOutbox) go ahead of waiting ordinary ones (requests), so under a steady stream of
// write batches they still get their turn instead of whatever the scheduler wakes first (a
// std::mutex lets the writer thread take it back again and again, and the WAL grows); but not
// twice in a row while an ordinary one waits, so they do not shut writes out.
// Hand-written: the standard library has no mutex with priorities.
class ConnectionLock {
 public:
  void lock();  // ordinary: waits while an urgent holder waits
  void unlock();
  void lock_urgent();
  int waiting();  // holders waiting now, urgent or not (for tests)

  // A scope holding the lock urgently.
  class Urgent {
   public:
    explicit Urgent(ConnectionLock& lock) : lock_(lock) { lock_.lock_urgent(); }
    ~Urgent() { lock_.unlock(); }
    Urgent(const Urgent&) = delete;
    Urgent& operator=(const Urgent&) = delete;

   private:
    ConnectionLock& lock_;
  };

 private:
  std::mutex mu_;
  std::condition_variable free_;
  bool held_ = false;
  bool held_urgently_ = false;
  bool ordinary_turn_ = false;  // an urgent holder left while ordinary ones waited
  int urgent_waiting_ = 0;
  int ordinary_waiting_ = 0;
};

class SqliteDatabase {
 public:
  // Opens (creating) the file and applies the schema migrations (PRAGMA user_version);
  // refuses (StoreUnavailable) a file of a newer schema version than SchemaVersion().
  explicit SqliteDatabase(const std::filesystem::path& file, SqliteSettings settings = {});
  // Stops the checkpoint thread, then closes (SQLite checkpoints and removes the WAL).
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  sqlite3* handle() { return db_; }

  // Outbox rows were committed: wakes WaitForOutbox. Signals are counted so a waiter
  // that read the count before looking at the table misses none.
  void SignalOutbox();
  std::uint64_t OutboxSignals();
  void WaitForOutbox(std::uint64_t seen, std::chrono::milliseconds max);
  ConnectionLock& mutex() { return mu_; }
  void Exec(std::string_view sql);
  int Changes() const { return sqlite3_changes(db_); }

  // BEGIN IMMEDIATE ... COMMIT, rolled back if the scope exits by exception. A read-only
  // one (kRead) is BEGIN DEFERRED: its statements share one snapshot and take SQLite's read
  // lock once, not once each.
  class Transaction {
   public:
    enum class Kind { kWrite, kRead };
    explicit Transaction(SqliteDatabase& db, Kind kind = Kind::kWrite);
    ~Transaction();
    void Commit();

   private:
    SqliteDatabase& db_;
    bool done_ = false;
  };

 private:
  friend class Statement;
  // Prepared statements kept for the next Statement of the same text: preparing (parsing
  // and planning) cost more than running the statements of a standalone increment
  // (docs/BENCHMARKS.md). SQLite re-prepares a kept statement by itself when the schema
  // changes. Finalized before the connection closes.
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  sqlite3_stmt* TakeKept(std::string_view sql);
  void Keep(sqlite3_stmt* stmt);

  void Migrate();
  // WAL checkpoints run on a thread of their own, not inside the commit that crossed
  // kCheckpointFrames (SQLite's automatic checkpoint stalled that commit, and every commit
  // queued behind the connection lock, for milliseconds: docs/ARCHITECTURE.md, "Standalone").
  static constexpr int kCheckpointFrames = 1000;  // SQLite's wal_autocheckpoint default
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int frames);
  void RunCheckpoints(std::filesystem::path file);
  void Checkpoint(sqlite3* own);
  sqlite3* db_ = nullptr;
  std::mutex kept_mu_;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>, TextHash, std::equal_to<>> kept_;
  ConnectionLock mu_;
  std::mutex outbox_mu_;
  std::condition_variable outbox_cv_;
  std::uint64_t outbox_signals_ = 0;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_due_ = false;       // guarded by checkpoint_mu_
  bool checkpoint_stopping_ = false;  // guarded by checkpoint_mu_
  std::thread checkpointer_;
};

}  // namespace count::sqlite
