#include "sqlite/sqlite_backup.hpp"

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "sqlite/sqlite_database.hpp"

namespace count::sqlite {
namespace {

namespace fs = std::filesystem;

struct Close {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using Connection = std::unique_ptr<sqlite3, Close>;

std::string Quoted(const fs::path& p) {
  std::string quoted = p.string();  // built in place: GCC 12 warns (-Wrestrict) on "'" + s
  quoted.insert(quoted.begin(), '\'');
  quoted.push_back('\'');
  return quoted;
}

Connection Open(const fs::path& file, int flags) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
  Connection connection(db);
  if (rc != SQLITE_OK)
    throw BackupError("cannot open " + Quoted(file) + ": " +
                      (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(db, 5000);
  return connection;
}

// Runs `sql` and returns the first column of its first row ("" when none).
std::string Query(sqlite3* db, std::string_view sql, std::string_view what) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  std::string result;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      if (const auto* text = sqlite3_column_text(stmt, 0))
        result = reinterpret_cast<const char*>(text);
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      }
    }
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_OK)
    throw BackupError(std::string(what) + ": " + sqlite3_errmsg(db));
  return result;
}

// Copies every page of `from` to `to` in one step, that is in one read transaction of `from`:
// a consistent snapshot however busy its writer is.
void CopyPages(sqlite3* from, sqlite3* to, std::string_view what) {
  sqlite3_backup* backup = sqlite3_backup_init(to, "main", from, "main");
  if (!backup) throw BackupError(std::string(what) + ": " + sqlite3_errmsg(to));
  const int rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) throw BackupError(std::string(what) + ": " + sqlite3_errstr(rc));
}

// The copy becomes one self-contained file (no -wal beside it), checked page by page.
void Seal(sqlite3* db, const fs::path& file) {
  if (Query(db, "PRAGMA journal_mode=DELETE", "set the journal mode") != "delete")
    throw BackupError("cannot make " + Quoted(file) + " a single file");
  if (const auto check = Query(db, "PRAGMA quick_check", "check the copy"); check != "ok")
    throw BackupError("the copy " + Quoted(file) + " failed its check: " + check);
}

void RemoveWithSidecars(const fs::path& file) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    fs::remove(fs::path(file.string() + suffix), ec);
}

// A file the caller is about to create, removed again unless Keep() is called.
class Scratch {
 public:
  explicit Scratch(fs::path file) : file_(std::move(file)) { RemoveWithSidecars(file_); }
  ~Scratch() {
    if (!kept_) RemoveWithSidecars(file_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const fs::path& path() const { return file_; }
  void Keep() { kept_ = true; }

 private:
  fs::path file_;
  bool kept_ = false;
};

int UserVersion(sqlite3* db) {
  return std::stoi(Query(db, "PRAGMA user_version", "read the schema version"));
}

bool DirectoryEmpty(const fs::path& dir) {
  std::error_code ec;
  return !fs::exists(dir, ec) || fs::is_empty(dir, ec);
}

// Whether another connection (a running count-system) has `database` open: leaving WAL mode
// needs the only connection, and fails at once (busy) otherwise.
bool InUse(const fs::path& database) {
  if (!fs::exists(database)) return false;
  sqlite3* raw = nullptr;
  sqlite3_open_v2(database.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  Connection db(raw);
  if (!raw) return false;
  const int rc = sqlite3_exec(raw, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
  return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

}  // namespace

BackupReport Backup(const fs::path& database, const fs::path& target) {
  if (!fs::exists(database)) throw BackupError("no database at " + Quoted(database));
  if (fs::exists(target))
    throw BackupError(Quoted(target) +
                      " exists already: name a new file (backups are never "
                      "overwritten)");
  // Read-write without create: the source is never created, migrated or changed (a reader
  // of a WAL database needs write access to its -shm file).
  auto source = Open(database, SQLITE_OPEN_READWRITE);
  Scratch partial(target.string() + ".partial");
  BackupReport report;
  {
    auto copy = Open(partial.path(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    CopyPages(source.get(), copy.get(), "copy " + Quoted(database));
    Seal(copy.get(), partial.path());
    report.schema_version = UserVersion(copy.get());
  }
  std::error_code ec;
  // Values and idempotency records, no credentials; still readable by the owner only.
  fs::permissions(partial.path(), fs::perms::owner_read | fs::perms::owner_write, ec);
  fs::rename(partial.path(), target, ec);
  if (ec) throw BackupError("cannot name the backup " + Quoted(target) + ": " + ec.message());
  partial.Keep();
  report.bytes = fs::file_size(target);
  return report;
}

RestoreReport Restore(const fs::path& backup, const fs::path& database, bool force) {
  if (!fs::is_regular_file(backup)) throw BackupError("no backup file at " + Quoted(backup));
  RestoreReport report;
  auto source = Open(backup, SQLITE_OPEN_READONLY);
  {
    std::string check;
    try {
      check = Query(source.get(), "PRAGMA quick_check", "check the backup");
    } catch (const BackupError& e) {
      throw BackupError(Quoted(backup) + " is not a count-system backup: " + e.what());
    }
    if (check != "ok") throw BackupError(Quoted(backup) + " is damaged: " + check);
  }
  report.backup_version = UserVersion(source.get());
  const bool ours = !Query(source.get(),
                           "SELECT name FROM sqlite_schema WHERE type = 'table' AND "
                           "name IN ('count_info', 'count_value')",
                           "read the backup's tables")
                         .empty();
  if (report.backup_version == 0 || !ours)
    throw BackupError(Quoted(backup) + " is not a count-system backup (no counter tables)");
  if (report.backup_version > SchemaVersion())
    throw BackupError(Quoted(backup) + " has schema version " +
                      std::to_string(report.backup_version) + ", newer than this count-system's " +
                      std::to_string(SchemaVersion()) +
                      ": restore it with the count-system release that wrote it, or a newer one");

  const fs::path dir = database.parent_path().empty() ? fs::path(".") : database.parent_path();
  if (!DirectoryEmpty(dir) && !force)
    throw BackupError("the data directory " + Quoted(dir) +
                      " is not empty: restore into a new directory, or pass --force to replace "
                      "its database (other files, such as admin.key, are kept)");
  if (InUse(database))
    throw BackupError(Quoted(database) + " is open in a running process: stop count-system first");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw BackupError("cannot create " + Quoted(dir) + ": " + ec.message());

  Scratch restoring(database.string() + ".restoring");
  {
    auto copy = Open(restoring.path(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    CopyPages(source.get(), copy.get(), "copy " + Quoted(backup));
    Seal(copy.get(), restoring.path());
  }
  try {
    SqliteDatabase migrated(restoring.path());  // the normal migrations, up to this build's
  } catch (const std::exception& e) {
    throw BackupError("cannot migrate the restored copy: " + std::string(e.what()));
  }
  {
    auto copy = Open(restoring.path(), SQLITE_OPEN_READWRITE);
    Seal(copy.get(), restoring.path());
    report.schema_version = UserVersion(copy.get());
  }
  // The old database's -wal must not be replayed onto the restored file.
  RemoveWithSidecars(database);
  fs::rename(restoring.path(), database, ec);
  if (ec) throw BackupError("cannot move the restored database into place: " + ec.message());
  restoring.Keep();
  report.bytes = fs::file_size(database);
  return report;
}

}  // namespace count::sqlite
