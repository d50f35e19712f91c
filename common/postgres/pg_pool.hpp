#pragma once
// A small thread-safe libpq connection pool and the helpers to run parameterised
// statements on it (text format).
//
// Error policy (core/ports.hpp): an infrastructure failure — no connection, connection
// lost, timeout, server shutting down, pool exhausted — throws core::StoreUnavailable.
// Any other server error (a constraint, a syntax error: a bug, not an outage) throws
// PgError with its SQLSTATE. No message ever contains the password.
#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports.hpp"

namespace count::postgres {

// A server error that is not an outage; `sqlstate()` is its five-character code.
class PgError : public std::runtime_error {
 public:
  PgError(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// Statement parameters in text format; nullopt is SQL NULL.
using PgParams = std::vector<std::optional<std::string>>;

// The format the server sends result columns in. Binary skips printing and parsing numbers
// and arrays on both sides: for results of thousands of rows (pg_binary.hpp decodes them).
enum class PgFormat { kText = 0, kBinary = 1 };

// One statement's result, its columns in the format the statement asked for.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result) {}

  int rows() const;
  // Rows changed by INSERT/UPDATE/DELETE (PQcmdTuples).
  std::int64_t affected_rows() const;

  bool IsNull(int row, int column) const;
  // The column's bytes: text, or the binary wire format of its type.
  std::string_view Text(int row, int column) const;
  std::string String(int row, int column) const { return std::string(Text(row, column)); }
  std::int64_t Int64(int row, int column) const;
  std::optional<std::int64_t> OptionalInt64(int row, int column) const;

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

struct PgPoolOptions {
  std::string database_url;  // any libpq conninfo string or postgresql:// URI
  std::size_t size = 4;      // connections at most
  // How long Acquire() waits for a free connection before giving up.
  std::chrono::milliseconds checkout_timeout{5000};
  // Set on every connection; the pool's settings win over the same keys in the URL.
  std::chrono::milliseconds statement_timeout{5000};
  std::chrono::seconds connect_timeout{5};  // libpq enforces at least 2 s
};

class PgPool;

// A connection checked out of the pool; returned when destroyed. Not thread-safe itself.
// A transaction left open is rolled back on return; a broken connection is re-established
// at its next checkout.
class PgLease {
 public:
  PgLease(PgLease&& other) noexcept;
  PgLease& operator=(PgLease&&) = delete;
  ~PgLease();

  // One statement with $1..$n parameters (PQexecParams).
  PgResult Exec(std::string_view sql, const PgParams& params = {},
                PgFormat results = PgFormat::kText);
  // One or more statements without parameters (PQexec), e.g. a migration script.
  void ExecScript(std::string_view sql);

  // Closes the connection instead of reusing it (after changing session state that
  // cannot be undone, or when its state is unknown).
  void Discard() { discard_ = true; }
  PGconn* native() { return conn_; }

 private:
  friend class PgPool;
  PgLease(PgPool* pool, PGconn* conn) : pool_(pool), conn_(conn) {}

  PgPool* pool_;
  PGconn* conn_;
  bool discard_ = false;
};

// BEGIN on construction; ROLLBACK on destruction unless Commit() ran.
class PgTransaction {
 public:
  explicit PgTransaction(PgLease& lease);
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  void Commit();

 private:
  PgLease& lease_;
  bool done_ = false;
};

class PgPool {
 public:
  // Throws std::invalid_argument when the URL does not parse. Connects lazily.
  explicit PgPool(PgPoolOptions options);
  // All leases must have been returned.
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // A healthy connection, waiting up to checkout_timeout for one to be free.
  PgLease Acquire();
  // Acquire() + PgLease::Exec().
  PgResult Exec(std::string_view sql, const PgParams& params = {},
                PgFormat results = PgFormat::kText);
  // Whether the server answers `SELECT 1` now.
  bool Ping();

  // host:port/dbname as user, for logs; never the password.
  const std::string& target() const { return target_; }
  const PgPoolOptions& options() const { return options_; }

 private:
  friend class PgLease;
  [[noreturn]] void ThrowUnavailable(std::string_view what, std::string_view detail) const;
  PgResult Check(PGconn* conn, PGresult* result) const;
  PGconn* Connect();
  void Release(PGconn* conn, bool discard);

  PgPoolOptions options_;
  std::vector<std::string> keywords_;  // connection parameters, pool settings applied
  std::vector<std::string> values_;
  std::string password_;  // only to scrub it from messages
  std::string target_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PGconn*> idle_;
  std::size_t open_ = 0;  // idle + leased
};

}  // namespace count::postgres
