#include "sqlite/sqlite_database.hpp"

#include <array>

#include "core/ports.hpp"

namespace count::sqlite {
namespace {

[[noreturn]] void Fail(sqlite3* db, std::string_view what) {
  throw core::StoreUnavailable("sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// Schema versions, applied in order; PRAGMA user_version records how many ran.
constexpr std::array<std::string_view, 8> kMigrations = {
    R"sql(
CREATE TABLE count_info (
  id          TEXT PRIMARY KEY,
  description TEXT NOT NULL DEFAULT '',
  min_value   INTEGER,
  max_value   INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE count_value (
  id         TEXT PRIMARY KEY,
  value      INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE idempotency (
  key         TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  outcomes    TEXT NOT NULL,
  expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_expiry ON idempotency(expires_at);
)sql",
    // The transactional outbox: one row per applied change, written in the change's
    // transaction, deleted once the bus took it.
    R"sql(
CREATE TABLE outbox (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id   TEXT NOT NULL,
  type       TEXT NOT NULL,
  count_id   TEXT NOT NULL,
  delta      INTEGER,
  value      INTEGER NOT NULL,
  timestamp  INTEGER NOT NULL,
  source     TEXT NOT NULL
);
CREATE UNIQUE INDEX outbox_event ON outbox(event_id);
)sql",
    // History (UC-004): minute rollups and the ids that make recording and importing
    // idempotent (sqlite_history_store.cpp). Times are epoch milliseconds.
    R"sql(
CREATE TABLE history_minute (
  count_id   TEXT NOT NULL,
  minute_ms  INTEGER NOT NULL,
  last_value INTEGER NOT NULL,
  last_at_ms INTEGER NOT NULL,
  sum_delta  INTEGER NOT NULL,
  min_value  INTEGER NOT NULL,
  max_value  INTEGER NOT NULL,
  PRIMARY KEY (count_id, minute_ms)
) WITHOUT ROWID;
CREATE INDEX history_minute_prune ON history_minute(minute_ms);
CREATE TABLE history_event (
  event_id TEXT PRIMARY KEY,
  at_ms    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX history_event_prune ON history_event(at_ms);
CREATE TABLE history_import (
  count_id TEXT NOT NULL,
  at_ms    INTEGER NOT NULL,
  PRIMARY KEY (count_id, at_ms)
) WITHOUT ROWID;
CREATE INDEX history_import_prune ON history_import(at_ms);
)sql",
    // Dashboards (UC-005): one row per dashboard, its widgets one JSON array
    // (core::EncodeWidgets), as in PostgreSQL's dashboardconfig database.
    R"sql(
CREATE TABLE dashboard (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  widgets    TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // The value store keeps its own copy of description and bounds, as Redis does, so it
    // answers a write or a read alone (docs/ARCHITECTURE.md, "Stores and their roles"); a
    // deleted event may say that the counter's history goes too.
    R"sql(
ALTER TABLE count_value ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE count_value ADD COLUMN min_value INTEGER;
ALTER TABLE count_value ADD COLUMN max_value INTEGER;
ALTER TABLE outbox ADD COLUMN purge_history INTEGER NOT NULL DEFAULT 0;
UPDATE count_value SET description = i.description, min_value = i.min_value,
                       max_value = i.max_value, updated_at = max(count_value.updated_at,
                                                                 i.updated_at)
  FROM count_info i WHERE i.id = count_value.id;
)sql",
    // The relay forgets a published batch by sequence number (one range delete), so the
    // outbox needs no index on event_id: it cost two B-tree writes per event.
    R"sql(
DROP INDEX outbox_event;
)sql",
    // The trace of the request that made the change (its W3C traceparent; null when none),
    // carried with the event to the bus (core/trace.hpp).
    R"sql(
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
)sql",
    // A hot counter (docs/API.md, "Hot counters"), chosen at creation: one file is one shard,
    // so it stays one row, refusing `set` as on a Redis Cluster.
    R"sql(
ALTER TABLE count_info ADD COLUMN sharded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE count_value ADD COLUMN sharded INTEGER NOT NULL DEFAULT 0;
)sql",
};

}  // namespace

int SchemaVersion() { return static_cast<int>(kMigrations.size()); }

Statement::Statement(SqliteDatabase& db, std::string_view sql) : db_(db) {
  stmt_ = db.TakeKept(sql);
  if (stmt_) return;
  if (sqlite3_prepare_v3(db.db_, sql.data(), static_cast<int>(sql.size()),
                         SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
    Fail(db.db_, "prepare");
}

Statement::~Statement() {
  if (stmt_) db_.Keep(stmt_);
}

Statement& Statement::Bind(int i, std::string_view text) {
  sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::Bind(int i, std::optional<std::int64_t> v) {
  if (v)
    sqlite3_bind_int64(stmt_, i, *v);
  else
    sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Fail(db_.db_, "step");
}

void Statement::Run() {
  while (Step()) {
  }
}

std::int64_t Statement::Int(int c) const { return sqlite3_column_int64(stmt_, c); }
std::optional<std::int64_t> Statement::OptInt(int c) const {
  if (sqlite3_column_type(stmt_, c) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt_, c);
}
std::string Statement::Text(int c) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, c)) : std::string();
}
void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void ConnectionLock::lock() {
  std::unique_lock lock(mu_);
  ++ordinary_waiting_;
  free_.wait(lock, [&] { return !held_ && (urgent_waiting_ == 0 || ordinary_turn_); });
  --ordinary_waiting_;
  held_ = true;
  ordinary_turn_ = false;
}

void ConnectionLock::lock_urgent() {
  std::unique_lock lock(mu_);
  ++urgent_waiting_;
  free_.wait(lock, [&] { return !held_ && !ordinary_turn_; });
  --urgent_waiting_;
  held_ = held_urgently_ = true;
}

int ConnectionLock::waiting() {
  std::lock_guard lock(mu_);
  return urgent_waiting_ + ordinary_waiting_;
}

void ConnectionLock::unlock() {
  {
    std::lock_guard lock(mu_);
    ordinary_turn_ = held_urgently_ && ordinary_waiting_ > 0;
    held_ = held_urgently_ = false;
  }
  free_.notify_all();
}

SqliteDatabase::SqliteDatabase(const std::filesystem::path& file, SqliteSettings settings) {
  if (sqlite3_open_v2(file.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw core::StoreUnavailable("sqlite: cannot open " + file.string() + ": " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  // Negative cache_size is in KiB.
  Exec("PRAGMA cache_size=-" + std::to_string(settings.cache_mb * 1024) +
       "; PRAGMA mmap_size=" + std::to_string(settings.mmap_mb * 1024 * 1024) + ";");
  Migrate();
  // Replaces SQLite's automatic checkpoint (itself a WAL hook) with RunCheckpoints.
  sqlite3_wal_hook(db_, &SqliteDatabase::OnWalCommit, this);
  checkpointer_ = std::thread([this, file] { RunCheckpoints(file); });
}

SqliteDatabase::~SqliteDatabase() {
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_stopping_ = true;
  }
  checkpoint_cv_.notify_one();
  checkpointer_.join();
  for (auto& [sql, stmts] : kept_)
    for (auto* stmt : stmts) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

sqlite3_stmt* SqliteDatabase::TakeKept(std::string_view sql) {
  std::lock_guard lock(kept_mu_);
  auto it = kept_.find(sql);
  if (it == kept_.end() || it->second.empty()) return nullptr;
  sqlite3_stmt* stmt = it->second.back();
  it->second.pop_back();
  return stmt;
}

void SqliteDatabase::Keep(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  const std::string_view sql = sqlite3_sql(stmt);
  std::lock_guard lock(kept_mu_);
  auto it = kept_.find(sql);
  if (it == kept_.end()) it = kept_.emplace(std::string(sql), std::vector<sqlite3_stmt*>{}).first;
  it->second.push_back(stmt);
}

void SqliteDatabase::SignalOutbox() {
  {
    std::lock_guard lock(outbox_mu_);
    ++outbox_signals_;
  }
  outbox_cv_.notify_all();
}

std::uint64_t SqliteDatabase::OutboxSignals() {
  std::lock_guard lock(outbox_mu_);
  return outbox_signals_;
}

void SqliteDatabase::WaitForOutbox(std::uint64_t seen, std::chrono::milliseconds max) {
  std::unique_lock lock(outbox_mu_);
  outbox_cv_.wait_for(lock, max, [&] { return outbox_signals_ != seen; });
}

int SqliteDatabase::OnWalCommit(void* self, sqlite3*, const char*, int frames) {
  if (frames < kCheckpointFrames) return SQLITE_OK;
  auto& db = *static_cast<SqliteDatabase*>(self);
  {
    std::lock_guard lock(db.checkpoint_mu_);
    if (db.checkpoint_due_) return SQLITE_OK;
    db.checkpoint_due_ = true;
  }
  db.checkpoint_cv_.notify_one();
  return SQLITE_OK;
}

void SqliteDatabase::RunCheckpoints(std::filesystem::path file) {
  sqlite3* own = nullptr;  // opened at the first checkpoint: short-lived uses never need it
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mu_);
      checkpoint_cv_.wait(lock, [&] { return checkpoint_stopping_ || checkpoint_due_; });
      if (checkpoint_stopping_) break;
    }
    // A connection uses the WAL once it has read the file; until then it checkpoints nothing.
    if (!own && (sqlite3_open_v2(file.c_str(), &own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                 nullptr) != SQLITE_OK ||
                 sqlite3_exec(own, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr,
                              nullptr) != SQLITE_OK)) {
      sqlite3_close(own);
      own = nullptr;
    }
    Checkpoint(own);
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_due_ = false;
  }
  sqlite3_close(own);
}

void SqliteDatabase::Checkpoint(sqlite3* own) {
  // Copies the WAL's frames into the file while commits go on appending to it, on a
  // connection of its own (PASSIVE: it takes no lock a commit needs).
  if (own) sqlite3_wal_checkpoint_v2(own, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  // The WAL starts over only at a commit that finds it copied entirely, which the commits
  // appended meanwhile defeat: those few frames are copied with commits held off, so the WAL
  // stays near kCheckpointFrames however busy the writers are. Without a connection of its
  // own, the whole checkpoint runs so. Urgent: ahead of the next write batch waiting.
  ConnectionLock::Urgent lock(mu_);
  sqlite3_wal_checkpoint_v2(own ? own : db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

void SqliteDatabase::Exec(std::string_view sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw core::StoreUnavailable("sqlite: " + message);
  }
}

void SqliteDatabase::Migrate() {
  std::lock_guard lock(mu_);
  std::size_t applied = 0;
  {
    Statement version(*this, "PRAGMA user_version");
    version.Step();
    applied = static_cast<std::size_t>(version.Int(0));
  }
  if (applied > kMigrations.size())
    throw core::StoreUnavailable("sqlite: the database has schema version " +
                                 std::to_string(applied) + ", newer than this build's " +
                                 std::to_string(kMigrations.size()) +
                                 ": use a newer count-system (it never downgrades a schema)");
  for (std::size_t i = applied; i < kMigrations.size(); ++i) {
    Transaction tx(*this);
    Exec(kMigrations[i]);
    Exec("PRAGMA user_version = " + std::to_string(i + 1));
    tx.Commit();
  }
}

SqliteDatabase::Transaction::Transaction(SqliteDatabase& db, Kind kind) : db_(db) {
  Statement(db_, kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED").Run();
}

SqliteDatabase::Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteDatabase::Transaction::Commit() {
  Statement(db_, "COMMIT").Run();
  done_ = true;
}

}  // namespace count::sqlite
