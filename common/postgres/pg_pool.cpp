#include "postgres/pg_pool.hpp"

#include <poll.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <utility>

namespace count::postgres {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// SQLSTATEs that mean "the database is not available now" rather than "this statement is
// wrong". An empty state is a client-side failure (libpq sets none).
bool IsUnavailableState(std::string_view state) {
  return state.empty() || state.starts_with("08") ||  // connection exception
         state.starts_with("53") ||                   // insufficient resources
         state.starts_with("57P") ||                  // shutdown, cannot connect now
         state.starts_with("58") ||                   // system error (I/O)
         state == "57014" ||                          // statement timeout / cancel
         state == "55P03" ||                          // lock timeout
         state == "40001" || state == "40P01" ||      // serialization failure, deadlock
         state == "25006";                            // read-only: a standby after failover
}

// Whether an idle connection is still usable, without a round trip: a server that shut
// down or dropped us has left a message and EOF on the socket.
bool Healthy(PGconn* conn) {
  if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) return false;
  pollfd fd{PQsocket(conn), POLLIN, 0};
  if (::poll(&fd, 1, 0) > 0) {
    if (!PQconsumeInput(conn)) return false;
    while (PGnotify* n = PQnotifies(conn)) PQfreemem(n);
  }
  return PQstatus(conn) == CONNECTION_OK;
}

void IgnoreNotice(void*, const char*) {}

}  // namespace

// ---- PgResult ----

int PgResult::rows() const { return PQntuples(result_.get()); }

std::int64_t PgResult::affected_rows() const {
  std::string_view s = PQcmdTuples(result_.get());
  std::int64_t n = 0;
  std::from_chars(s.data(), s.data() + s.size(), n);
  return n;
}

bool PgResult::IsNull(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::string_view PgResult::Text(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::int64_t PgResult::Int64(int row, int column) const {
  const std::string_view s = Text(row, column);
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || end != s.data() + s.size())
    throw std::runtime_error("PostgreSQL: column " + std::to_string(column) +
                             " is not a 64-bit integer");
  return n;
}

std::optional<std::int64_t> PgResult::OptionalInt64(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  return Int64(row, column);
}

// ---- PgLease ----

PgLease::PgLease(PgLease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      conn_(std::exchange(other.conn_, nullptr)),
      discard_(other.discard_) {}

PgLease::~PgLease() {
  if (pool_) pool_->Release(conn_, discard_);
}

PgResult PgLease::Exec(std::string_view sql, const PgParams& params, PgFormat results) {
  const std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return pool_->Check(conn_,
                      PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                   values.data(), nullptr, nullptr, static_cast<int>(results)));
}

void PgLease::ExecScript(std::string_view sql) {
  const std::string text(sql);
  pool_->Check(conn_, PQexec(conn_, text.c_str()));
}

// ---- PgTransaction ----

PgTransaction::PgTransaction(PgLease& lease) : lease_(lease) { lease_.Exec("BEGIN"); }

PgTransaction::~PgTransaction() {
  if (done_) return;
  try {
    lease_.Exec("ROLLBACK");
  } catch (...) {
    lease_.Discard();
  }
}

void PgTransaction::Commit() {
  done_ = true;  // whatever COMMIT answers, the transaction is over (or the lease is broken)
  lease_.Exec("COMMIT");
}

// ---- PgPool ----

PgPool::PgPool(PgPoolOptions options) : options_(std::move(options)) {
  if (options_.size == 0) throw std::invalid_argument("PostgreSQL pool size must be at least 1");
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options_.database_url.c_str(), &error);
  if (!parsed) {
    // libpq's message may quote the URL, password included: keep it out.
    PQfreemem(error);
    throw std::invalid_argument("DATABASE_URL is not a valid PostgreSQL connection string or URI");
  }
  std::string startup_options;
  std::string host = "(default host)", port = "5432", user, dbname;
  for (const PQconninfoOption* o = parsed; o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    const std::string_view key = o->keyword;
    const std::string value = o->val;
    if (key == "password") password_ = value;
    if (key == "host" || (key == "hostaddr" && host == "(default host)")) host = value;
    if (key == "port") port = value;
    if (key == "user") user = value;
    if (key == "dbname") dbname = value;
    if (key == "options") {
      startup_options = value + " ";
      continue;
    }
    if (key == "connect_timeout") continue;
    keywords_.emplace_back(key);
    values_.push_back(value);
  }
  PQconninfoFree(parsed);
  // TCP keepalives notice a peer that vanished without closing (network partition, host
  // lost), unless the URL configures them itself.
  for (const auto& [key, value] :
       {std::pair{"keepalives_idle", "30"}, std::pair{"keepalives_interval", "10"},
        std::pair{"keepalives_count", "3"}}) {
    if (std::find(keywords_.begin(), keywords_.end(), key) != keywords_.end()) continue;
    keywords_.emplace_back(key);
    values_.emplace_back(value);
  }
  keywords_.emplace_back("connect_timeout");
  values_.push_back(std::to_string(options_.connect_timeout.count()));
  keywords_.emplace_back("options");
  values_.push_back(startup_options +
                    "-c statement_timeout=" + std::to_string(options_.statement_timeout.count()));
  target_ = (user.empty() ? "" : user + "@") + host + ":" + port + "/" + dbname;
}

PgPool::~PgPool() {
  std::lock_guard lock(mu_);
  assert(idle_.size() == open_ && "PgPool destroyed while connections are leased");
  for (PGconn* c : idle_) PQfinish(c);
}

void PgPool::ThrowUnavailable(std::string_view what, std::string_view detail) const {
  std::string message = "PostgreSQL " + target_ + ": " + std::string(what) + ": ";
  message += Trim(detail);
  if (!password_.empty()) {
    for (auto at = message.find(password_); at != std::string::npos;
         at = message.find(password_, at + 3))
      message.replace(at, password_.size(), "***");
  }
  throw core::StoreUnavailable(message);
}

PgResult PgPool::Check(PGconn* conn, PGresult* result) const {
  if (!result) ThrowUnavailable("query failed", PQerrorMessage(conn));
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY)
    return PgResult(result);
  const char* field = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string state = field ? field : "";
  const std::string message(Trim(PQresultErrorMessage(result)));
  PQclear(result);
  if (PQstatus(conn) != CONNECTION_OK || status == PGRES_BAD_RESPONSE || IsUnavailableState(state))
    ThrowUnavailable("query failed", message);
  throw PgError(state, "PostgreSQL " + target_ + ": " + message);
}

PGconn* PgPool::Connect() {
  std::vector<const char*> keys, values;
  for (std::size_t i = 0; i < keywords_.size(); ++i) {
    keys.push_back(keywords_[i].c_str());
    values.push_back(values_[i].c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 0);
  if (!conn) ThrowUnavailable("connect failed", "out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    ThrowUnavailable("connect failed", error);
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  return conn;
}

PgLease PgPool::Acquire() {
  PGconn* conn = nullptr;
  {
    std::unique_lock lock(mu_);
    const bool ready = cv_.wait_for(lock, options_.checkout_timeout,
                                    [&] { return !idle_.empty() || open_ < options_.size; });
    if (!ready)
      ThrowUnavailable(
          "pool exhausted",
          "no free connection within " + std::to_string(options_.checkout_timeout.count()) + " ms");
    if (!idle_.empty()) {
      conn = idle_.back();
      idle_.pop_back();
    } else {
      ++open_;  // a slot reserved for the connection made below, outside the lock
    }
  }
  std::string error;
  if (!conn) {
    try {
      conn = Connect();
    } catch (...) {
      Release(nullptr, true);
      throw;
    }
  } else if (!Healthy(conn)) {
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
      error = PQerrorMessage(conn);
      Release(conn, true);
      ThrowUnavailable("reconnect failed", error);
    }
  }
  return PgLease(this, conn);
}

void PgPool::Release(PGconn* conn, bool discard) {
  if (conn && !discard && PQstatus(conn) == CONNECTION_OK &&
      PQtransactionStatus(conn) != PQTRANS_IDLE) {
    PQclear(PQexec(conn, "ROLLBACK"));
    discard = PQtransactionStatus(conn) != PQTRANS_IDLE;
  }
  if (discard && conn) PQfinish(conn);
  {
    std::lock_guard lock(mu_);
    if (discard)
      --open_;
    else
      idle_.push_back(conn);  // a broken one is re-established at its next checkout
  }
  cv_.notify_one();
}

PgResult PgPool::Exec(std::string_view sql, const PgParams& params, PgFormat results) {
  return Acquire().Exec(sql, params, results);
}

bool PgPool::Ping() {
  try {
    Exec("SELECT 1");
    return true;
  } catch (const core::StoreUnavailable&) {
    return false;
  } catch (const PgError&) {
    return false;
  }
}

}  // namespace count::postgres
