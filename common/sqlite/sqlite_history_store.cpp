#include "sqlite/sqlite_history_store.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "core/ports.hpp"

namespace count::sqlite {
namespace {

std::int64_t Ms(core::Timestamp t) { return t.time_since_epoch().count(); }
core::Timestamp FromMs(std::int64_t ms) { return core::Timestamp(std::chrono::milliseconds(ms)); }

// Sums saturate at the int64 limits instead of failing (SQLite's sum() raises an error).
std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (!__builtin_add_overflow(a, b, &out)) return out;
  return b > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

void SaturatingAddFunction(sqlite3_context* ctx, int, sqlite3_value** argv) {
  sqlite3_result_int64(ctx,
                       SaturatingAdd(sqlite3_value_int64(argv[0]), sqlite3_value_int64(argv[1])));
}

void SaturatingSumStep(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto* sum = static_cast<std::int64_t*>(sqlite3_aggregate_context(ctx, sizeof(std::int64_t)));
  if (!sum) return sqlite3_result_error_nomem(ctx);
  *sum = SaturatingAdd(*sum, sqlite3_value_int64(argv[0]));
}

void SaturatingSumFinal(sqlite3_context* ctx) {
  const auto* sum = static_cast<std::int64_t*>(sqlite3_aggregate_context(ctx, 0));
  sqlite3_result_int64(ctx, sum ? *sum : 0);
}

// Folds changes into their minute. The latest change by time gives the minute its last
// value; on a tie, the later recorded.
constexpr std::string_view kFold =
    "INSERT INTO history_minute (count_id, minute_ms, last_value, last_at_ms, sum_delta,"
    " min_value, max_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (count_id, minute_ms) DO UPDATE SET"
    " last_value = CASE WHEN excluded.last_at_ms >= last_at_ms"
    " THEN excluded.last_value ELSE last_value END,"
    " last_at_ms = max(last_at_ms, excluded.last_at_ms),"
    " sum_delta = saturating_add(sum_delta, excluded.sum_delta),"
    " min_value = min(min_value, excluded.min_value),"
    " max_value = max(max_value, excluded.max_value)";

// The changes of one call folded per counter and minute in memory first, so SQLite sees one
// upsert per minute touched instead of one per change.
class MinuteFolds {
 public:
  void Add(std::string_view count_id, core::Timestamp at, std::int64_t value, std::int64_t delta) {
    const std::int64_t at_ms = Ms(at);
    const auto [it, added] =
        folds_.try_emplace({std::string(count_id), Ms(BucketStart(at, core::Unit::kMinute))},
                           Minute{value, at_ms, delta, value, value});
    if (added) return;
    Minute& m = it->second;
    if (at_ms >= m.last_at_ms) m.last_value = value, m.last_at_ms = at_ms;  // a tie: the later
    m.sum_delta = SaturatingAdd(m.sum_delta, delta);
    m.min_value = std::min(m.min_value, value);
    m.max_value = std::max(m.max_value, value);
  }

  void Write(Statement& fold) const {
    for (const auto& [key, m] : folds_) {
      fold.Bind(1, key.first).Bind(2, key.second).Bind(3, m.last_value).Bind(4, m.last_at_ms);
      fold.Bind(5, m.sum_delta).Bind(6, m.min_value).Bind(7, m.max_value).Run();
      fold.Reset();
    }
  }

 private:
  struct Minute {
    std::int64_t last_value, last_at_ms, sum_delta, min_value, max_value;
  };
  std::map<std::pair<std::string, std::int64_t>, Minute> folds_;
};

// The SQL expression of the bucket start (epoch ms) holding `minute_ms`: the start of the
// enclosing multiple of `width` counted from `origin` (floor, so times before 1970 work).
std::string FixedBucket(std::int64_t width, std::int64_t origin) {
  const std::string w = std::to_string(width), o = std::to_string(origin);
  return "minute_ms - (((minute_ms - " + o + ") % " + w + ") + " + w + ") % " + w;
}

std::string SeriesSql(core::Unit unit) {
  constexpr std::int64_t kDay = 86'400'000;
  std::string bucket;
  switch (unit) {
    case core::Unit::kMinute:
      return "SELECT minute_ms, last_value, sum_delta, min_value, max_value FROM history_minute"
             " WHERE count_id = ?1 AND minute_ms >= ?2 AND minute_ms < ?3 ORDER BY minute_ms";
    case core::Unit::kHour:
      bucket = FixedBucket(3'600'000, 0);
      break;
    case core::Unit::kDay:
      bucket = FixedBucket(kDay, 0);
      break;
    case core::Unit::kWeek:
      bucket = FixedBucket(7 * kDay, 4 * kDay);  // 1970-01-05 was a Monday
      break;
    case core::Unit::kMonth:
      bucket =
          "CAST(strftime('%s', minute_ms / 1000, 'unixepoch', 'start of month') AS INTEGER)"
          " * 1000";
      break;
  }
  // The last value of a bucket is that of its latest minute.
  return "WITH b AS (SELECT " + bucket +
         " AS bucket, max(minute_ms) AS last_minute, saturating_sum(sum_delta) AS sum_delta,"
         " min(min_value) AS min_value, max(max_value) AS max_value FROM history_minute"
         " WHERE count_id = ?1 AND minute_ms >= ?2 AND minute_ms < ?3 GROUP BY 1)"
         " SELECT b.bucket, h.last_value, b.sum_delta, b.min_value, b.max_value FROM b"
         " JOIN history_minute h ON h.count_id = ?1 AND h.minute_ms = b.last_minute"
         " ORDER BY b.bucket";
}

}  // namespace

SqliteHistoryStore::SqliteHistoryStore(SqliteDatabase& db) : db_(db) {
  std::lock_guard lock(db_.mutex());
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
  if (sqlite3_create_function_v2(db_.handle(), "saturating_add", 2, kFlags, nullptr,
                                 SaturatingAddFunction, nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_create_function_v2(db_.handle(), "saturating_sum", 1, kFlags, nullptr, nullptr,
                                 SaturatingSumStep, SaturatingSumFinal, nullptr) != SQLITE_OK)
    throw core::StoreUnavailable(std::string("sqlite: cannot register history functions: ") +
                                 sqlite3_errmsg(db_.handle()));
}

std::size_t SqliteHistoryStore::Record(std::span<const core::Event> events) {
  std::lock_guard lock(db_.mutex());
  SqliteDatabase::Transaction tx(db_);
  Statement remember(db_, "INSERT OR IGNORE INTO history_event (event_id, at_ms) VALUES (?1, ?2)");
  std::vector<const core::Event*> fresh;
  for (const auto& e : events) {
    remember.Bind(1, e.event_id).Bind(2, Ms(e.timestamp)).Run();
    remember.Reset();
    if (db_.Changes() != 0) fresh.push_back(&e);
  }
  // The events of sharded counters' parts carry their counter's value from here on
  // (core::CounterValues; on a Redis Cluster only, but the rule is the history's).
  std::deque<core::Event> copies;
  if (const auto counters = core::CountersOfParts(fresh); !counters.empty()) {
    Statement last(db_,
                   "SELECT last_value, last_at_ms FROM history_minute WHERE count_id = ?1"
                   " ORDER BY minute_ms DESC LIMIT 1");
    std::vector<core::HistoryPoint> latest;
    for (const auto& id : counters) {
      last.Bind(1, id);
      if (last.Step()) latest.push_back({id, FromMs(last.Int(1)), last.Int(0)});
      last.Reset();
    }
    core::CounterValues(fresh, latest, copies);
  }
  MinuteFolds folds;
  for (const core::Event* e : fresh)
    folds.Add(e->count_id, e->timestamp, e->value, e->delta.value_or(0));
  Statement fold(db_, kFold);
  folds.Write(fold);
  tx.Commit();
  return fresh.size();
}

void SqliteHistoryStore::RecordInTransaction(std::span<const core::Event> events) {
  // A purging deletion forgets the history at its place among the events (as RecordEvents in
  // count-analysis-service/src/history_feed.cpp does on a stream).
  MinuteFolds folds;
  Statement fold(db_, kFold);
  for (const auto& e : events) {
    folds.Add(e.count_id, e.timestamp, e.value, e.delta.value_or(0));
    if (!e.purge_history) continue;
    folds.Write(fold);
    folds = {};
    PurgeLocked(e.count_id);
  }
  folds.Write(fold);
}

std::size_t SqliteHistoryStore::Import(std::span<const core::HistoryPoint> points) {
  // Imported points carry no delta: they contribute 0 to sums.
  std::lock_guard lock(db_.mutex());
  SqliteDatabase::Transaction tx(db_);
  Statement remember(db_, "INSERT OR IGNORE INTO history_import (count_id, at_ms) VALUES (?1, ?2)");
  MinuteFolds folds;
  std::size_t fresh = 0;
  for (const auto& p : points) {
    remember.Bind(1, p.count_id).Bind(2, Ms(p.timestamp)).Run();
    remember.Reset();
    if (db_.Changes() == 0) continue;
    folds.Add(p.count_id, p.timestamp, p.value, 0);
    ++fresh;
  }
  Statement fold(db_, kFold);
  folds.Write(fold);
  tx.Commit();
  return fresh;
}

std::vector<core::Bucket> SqliteHistoryStore::Series(std::string_view count_id,
                                                     core::Timestamp from, core::Timestamp to,
                                                     core::Unit unit) {
  std::lock_guard lock(db_.mutex());
  Statement s(db_, SeriesSql(unit));
  s.Bind(1, count_id).Bind(2, Ms(from)).Bind(3, Ms(to));
  std::vector<core::Bucket> buckets;
  while (s.Step()) buckets.push_back({FromMs(s.Int(0)), s.Int(1), s.Int(2), s.Int(3), s.Int(4)});
  return buckets;
}

std::vector<core::BucketValue> SqliteHistoryStore::LastValues(std::string_view count_id,
                                                              core::Timestamp from,
                                                              core::Timestamp to, core::Unit unit) {
  if (unit != core::Unit::kMinute) return HistoryStore::LastValues(count_id, from, to, unit);
  // Two columns of the minutes (clustered by counter and minute), without sums and extremes.
  std::lock_guard lock(db_.mutex());
  Statement s(db_,
              "SELECT minute_ms, last_value FROM history_minute"
              " WHERE count_id = ?1 AND minute_ms >= ?2 AND minute_ms < ?3 ORDER BY minute_ms");
  s.Bind(1, count_id).Bind(2, Ms(from)).Bind(3, Ms(to));
  std::vector<core::BucketValue> values;
  while (s.Step()) values.push_back({FromMs(s.Int(0)), s.Int(1)});
  return values;
}

std::optional<core::HistoryPoint> SqliteHistoryStore::Last(std::string_view count_id,
                                                           std::int64_t from_ms,
                                                           std::int64_t to_ms) {
  std::lock_guard lock(db_.mutex());
  Statement s(db_,
              "SELECT last_value, last_at_ms FROM history_minute WHERE count_id = ?1"
              " AND minute_ms >= ?2 AND minute_ms < ?3 ORDER BY minute_ms DESC LIMIT 1");
  s.Bind(1, count_id).Bind(2, from_ms).Bind(3, to_ms);
  if (!s.Step()) return std::nullopt;
  return core::HistoryPoint{std::string(count_id), FromMs(s.Int(1)), s.Int(0)};
}

std::optional<core::HistoryPoint> SqliteHistoryStore::Latest(std::string_view count_id) {
  return Last(count_id, std::numeric_limits<std::int64_t>::min(),
              std::numeric_limits<std::int64_t>::max());
}

std::optional<core::HistoryPoint> SqliteHistoryStore::LastIn(std::string_view count_id,
                                                             core::Timestamp from,
                                                             core::Timestamp to) {
  return Last(count_id, Ms(from), Ms(to));
}

void SqliteHistoryStore::Purge(std::string_view count_id) {
  // Remembered event ids stay: a redelivered event of the purged counter must not bring
  // its history back.
  std::lock_guard lock(db_.mutex());
  SqliteDatabase::Transaction tx(db_);
  PurgeLocked(count_id);
  tx.Commit();
}

void SqliteHistoryStore::PurgeLocked(std::string_view count_id) {
  for (const char* sql : {"DELETE FROM history_minute WHERE count_id = ?1",
                          "DELETE FROM history_import WHERE count_id = ?1"})
    Statement(db_, sql).Bind(1, count_id).Run();
}

std::size_t SqliteHistoryStore::Prune(core::Timestamp before, std::size_t limit) {
  // Whole hours before `before` (as the PostgreSQL store, which keeps hour rollups), with
  // the event ids and imported points that fell in them: a kept hour keeps them, so a
  // redelivery into it still counts once.
  const std::int64_t cutoff = Ms(BucketStart(before, core::Unit::kHour));
  std::lock_guard lock(db_.mutex());
  SqliteDatabase::Transaction tx(db_);
  std::size_t dropped = 0;
  for (const char* sql :
       {"DELETE FROM history_minute WHERE (count_id, minute_ms) IN"
        " (SELECT count_id, minute_ms FROM history_minute WHERE minute_ms < ?1 LIMIT ?2)",
        "DELETE FROM history_event WHERE event_id IN"
        " (SELECT event_id FROM history_event WHERE at_ms < ?1 LIMIT ?2)",
        "DELETE FROM history_import WHERE (count_id, at_ms) IN"
        " (SELECT count_id, at_ms FROM history_import WHERE at_ms < ?1 LIMIT ?2)"}) {
    Statement(db_, sql).Bind(1, cutoff).Bind(2, static_cast<std::int64_t>(limit)).Run();
    dropped += static_cast<std::size_t>(db_.Changes());
  }
  tx.Commit();
  return dropped;
}

}  // namespace count::sqlite
