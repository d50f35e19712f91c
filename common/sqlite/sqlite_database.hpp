#pragma once
// One SQLite database file (WAL) shared by the standalone stores. Statements run under
// one mutex: SQLite allows a single writer anyway, and an in-process call takes
// microseconds, so serialising is simpler and as fast as a pool here.
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace count::sqlite {

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
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
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// The schema version this build writes: the number of migrations it knows.
int SchemaVersion();

class SqliteDatabase {
 public:
  // Opens (creating) the file and applies the schema migrations (PRAGMA user_version);
  // refuses (StoreUnavailable) a file of a newer schema version than SchemaVersion().
  explicit SqliteDatabase(const std::filesystem::path& file);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  sqlite3* handle() { return db_; }

  // Outbox rows were committed: wakes WaitForOutbox. Signals are counted so a waiter
  // that read the count before looking at the table misses none.
  void SignalOutbox();
  std::uint64_t OutboxSignals();
  void WaitForOutbox(std::uint64_t seen, std::chrono::milliseconds max);
  std::mutex& mutex() { return mu_; }
  void Exec(std::string_view sql);
  int Changes() const { return sqlite3_changes(db_); }

  // BEGIN IMMEDIATE ... COMMIT, rolled back if the scope exits by exception.
  class Transaction {
   public:
    explicit Transaction(SqliteDatabase& db);
    ~Transaction();
    void Commit();

   private:
    SqliteDatabase& db_;
    bool done_ = false;
  };

 private:
  void Migrate();
  sqlite3* db_ = nullptr;
  std::mutex mu_;
  std::mutex outbox_mu_;
  std::condition_variable outbox_cv_;
  std::uint64_t outbox_signals_ = 0;
};

}  // namespace count::sqlite
