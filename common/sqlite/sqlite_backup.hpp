#pragma once
// Backup and restore of the standalone database (docs/OPERATIONS.md, "Standalone").
//
// Backup copies a live database with SQLite's online backup API: every page is copied in one
// read transaction, so the copy is the database as one commit left it, while the running
// system goes on writing (WAL: readers and the writer do not block each other). The copy is
// one self-contained file (rollback journal mode, no -wal beside it), checked before it is
// given its name.
//
// Restore checks the backup (intact, a count-system database, a schema version this build
// knows), copies it beside the target, applies the newer schema migrations to the copy and
// only then moves it into place, so a failed restore leaves the data directory as it was.
#include <cstdint>
#include <filesystem>
#include <stdexcept>

namespace count::sqlite {

// A backup or restore refused or failed; what() says why and what to do.
class BackupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct BackupReport {
  int schema_version = 0;
  std::uintmax_t bytes = 0;
};

// Copies `database` (possibly in use by a running count-system) to `target`, which must not
// exist yet. Never changes `database`.
BackupReport Backup(const std::filesystem::path& database, const std::filesystem::path& target);

struct RestoreReport {
  int backup_version = 0;  // the backup's schema version
  int schema_version = 0;  // the restored database's, after migration
  std::uintmax_t bytes = 0;
};

// Makes `database` a copy of `backup`, migrated to this build's schema version. Refuses a
// backup from a newer schema version, and a non-empty directory of `database` unless `force`
// (which replaces the database files and keeps every other file, such as admin.key); refuses,
// even with `force`, a database that a running process has open.
RestoreReport Restore(const std::filesystem::path& backup, const std::filesystem::path& database,
                      bool force);

}  // namespace count::sqlite
