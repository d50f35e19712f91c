#include "postgres/migrations.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <set>
#include <stdexcept>

namespace count::postgres {

namespace {

// pg_advisory_lock key shared by every migration runner ("countmig"). Advisory locks are
// per database, so runners of different databases do not wait for each other.
constexpr std::int64_t kMigrationLockKey = 0x636f756e746d6967;

// "countinfo/0001_count_info.sql" -> database "countinfo", version 1, name "count_info".
// embed_migrations.cmake only embeds names of that shape.
Migration ParseFile(const detail::EmbeddedFile& file, std::string_view* database) {
  const std::string_view path = file.path;
  const auto slash = path.find('/');
  const auto underscore = slash == std::string_view::npos ? slash : path.find('_', slash);
  Migration m;
  bool ok = underscore != std::string_view::npos && path.ends_with(".sql");
  if (ok) {
    const auto [end, ec] =
        std::from_chars(path.data() + slash + 1, path.data() + underscore, m.version);
    ok = ec == std::errc{} && end == path.data() + underscore;
  }
  if (!ok) throw std::logic_error("malformed embedded migration name: " + std::string(path));
  *database = path.substr(0, slash);
  m.name = std::string(path.substr(underscore + 1, path.size() - underscore - 1 - 4));
  m.sql = file.content;
  return m;
}

}  // namespace

std::vector<Migration> EmbeddedMigrations(std::string_view database) {
  std::vector<Migration> out;
  for (const auto& file : detail::EmbeddedMigrationFiles()) {
    std::string_view db;
    Migration m = ParseFile(file, &db);
    if (db == database) out.push_back(std::move(m));
  }
  if (out.empty())
    throw std::invalid_argument("no migrations embedded for database '" + std::string(database) +
                                "'");
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return out;
}

std::vector<Migration> Migrate(PgPool& pool, std::span<const Migration> migrations) {
  for (std::size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i - 1].version >= migrations[i].version)
      throw std::invalid_argument("migration versions must be unique and ascending");
  }
  PgLease lease = pool.Acquire();
  // The lock and the timeout are session state: drop them before the connection goes back
  // to the pool (or close it when that fails). Runs after any open transaction rolled back.
  struct SessionReset {
    PgLease& lease;
    ~SessionReset() {
      try {
        lease.Exec("DISCARD ALL");
      } catch (...) {
        lease.Discard();
      }
    }
  } reset{lease};

  lease.Exec("SET statement_timeout = 0");  // a schema change may outlast a request
  lease.Exec("SELECT pg_advisory_lock($1)", {std::to_string(kMigrationLockKey)});
  lease.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version integer PRIMARY KEY,"
      " name text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
  std::set<int> done;
  const PgResult rows = lease.Exec("SELECT version FROM schema_migrations");
  for (int r = 0; r < rows.rows(); ++r) done.insert(static_cast<int>(rows.Int64(r, 0)));

  std::vector<Migration> applied;
  for (const Migration& m : migrations) {
    if (done.contains(m.version)) continue;
    PgTransaction tx(lease);
    try {
      lease.ExecScript(m.sql);
    } catch (const PgError& e) {
      throw PgError(e.sqlstate(), "migration " + std::to_string(m.version) + "_" + m.name +
                                      " failed: " + e.what());
    }
    lease.Exec("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
               {std::to_string(m.version), m.name});
    tx.Commit();
    applied.push_back(m);
  }
  return applied;
}

std::vector<Migration> Migrate(PgPool& pool, std::string_view database) {
  const std::vector<Migration> migrations = EmbeddedMigrations(database);
  return Migrate(pool, migrations);
}

}  // namespace count::postgres
