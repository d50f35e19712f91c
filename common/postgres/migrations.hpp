#pragma once
// Versioned schema migrations, embedded in the binary at build time.
//
// The SQL lives in `common/postgres/migrations/<database>/<NNNN>_<name>.sql`; the build turns
// every file there into data of this library (embed_migrations.cmake), so a container needs
// nothing beside its binary. A new database is a new folder; a schema change is a new file
// with the next version. Applied migrations are never edited.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "postgres/pg_pool.hpp"

namespace count::postgres {

struct Migration {
  int version = 0;
  std::string name;
  std::string_view sql;
};

// The migrations embedded for `database` (a folder under migrations/), in version order.
// Throws std::invalid_argument for a database without migrations.
std::vector<Migration> EmbeddedMigrations(std::string_view database);

// Applies, in version order and each in its own transaction, the migrations not yet
// recorded in `schema_migrations(version, name, applied_at)` of the pool's database, and
// returns those it applied (empty when the schema is current). A session advisory lock
// serialises concurrent runners. Throws StoreUnavailable or PgError; a failed migration
// leaves the ones before it applied and itself not at all.
std::vector<Migration> Migrate(PgPool& pool, std::span<const Migration> migrations);

// Migrate(pool, EmbeddedMigrations(database)), e.g. Migrate(pool, "countinfo").
std::vector<Migration> Migrate(PgPool& pool, std::string_view database);

namespace detail {
// A file under migrations/, as the build embedded it: path relative to that folder.
struct EmbeddedFile {
  std::string_view path;
  std::string_view content;
};
// Defined in the generated embedded_migrations.cpp.
std::span<const EmbeddedFile> EmbeddedMigrationFiles();
}  // namespace detail

}  // namespace count::postgres
