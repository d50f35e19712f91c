#include "postgres/postgres_history_store.hpp"

#include <algorithm>
#include <string>

namespace count::postgres {
namespace {

// Rows per statement: keeps each statement well inside the statement timeout.
constexpr std::size_t kChunk = 20'000;
// Rows per DELETE when pruning, so retention never holds long locks.
constexpr int kPruneBatch = 10'000;

std::int64_t Millis(core::Timestamp t) { return t.time_since_epoch().count(); }
core::Timestamp FromMillis(std::int64_t ms) {
  return core::Timestamp(std::chrono::milliseconds(ms));
}

// A PostgreSQL array literal, built element by element: {"a","b"} or {1,NULL}.
class ArrayLiteral {
 public:
  void Add(std::string_view text) {
    Separate();
    text_ += '"';
    for (char c : text) {
      if (c == '"' || c == '\\') text_ += '\\';
      text_ += c;
    }
    text_ += '"';
  }
  void Add(std::int64_t v) {
    Separate();
    text_ += std::to_string(v);
  }
  void Add(std::optional<std::int64_t> v) {
    if (v) return Add(*v);
    Separate();
    text_ += "NULL";
  }
  std::string Take() {
    text_ += '}';
    return std::move(text_);
  }

 private:
  void Separate() {
    if (text_.size() > 1) text_ += ',';
  }
  std::string text_ = "{";
};

// `expr` (numeric) saturated to the bigint range: sums never fail, however large.
std::string Clamp(std::string_view expr) {
  return "LEAST(GREATEST(" + std::string(expr) +
         ", -9223372036854775808), 9223372036854775807)::bigint";
}

// Folds the CTE `changes(count_id, at_ms, value, delta, n)` into history_minute; the latest
// change (by time, then by input order) gives a minute its last value.
std::string FoldChanges() {
  return
      "rolled AS ("
      " SELECT count_id, at_ms - ((at_ms % 60000) + 60000) % 60000 AS minute_ms,"
      " (array_agg(value ORDER BY at_ms DESC, n DESC))[1] AS last_value,"
      " max(at_ms) AS last_at_ms, sum(coalesce(delta, 0)) AS sum_delta,"
      " min(value) AS min_value, max(value) AS max_value"
      " FROM changes GROUP BY 1, 2),"
      " upserted AS ("
      " INSERT INTO history_minute AS h"
      " (count_id, minute_ms, last_value, last_at_ms, sum_delta, min_value, max_value)"
      " SELECT count_id, minute_ms, last_value, last_at_ms, " +
      Clamp("sum_delta") +
      ", min_value, max_value FROM rolled ORDER BY count_id, minute_ms"
      " ON CONFLICT (count_id, minute_ms) DO UPDATE SET"
      " last_value = CASE WHEN EXCLUDED.last_at_ms >= h.last_at_ms"
      " THEN EXCLUDED.last_value ELSE h.last_value END,"
      " last_at_ms = GREATEST(h.last_at_ms, EXCLUDED.last_at_ms),"
      " sum_delta = " +
      Clamp("h.sum_delta::numeric + EXCLUDED.sum_delta") +
      ", min_value = LEAST(h.min_value, EXCLUDED.min_value),"
      " max_value = GREATEST(h.max_value, EXCLUDED.max_value)"
      " RETURNING 1)";
}

// The SQL expression of the bucket start (epoch ms) holding `minute_ms`, for fixed-width
// units: the start of the enclosing multiple of `width` counted from `origin` (floor, so
// times before 1970 work too).
std::string FixedBucket(std::int64_t width, std::int64_t origin) {
  const std::string w = std::to_string(width), o = std::to_string(origin);
  return "minute_ms - (((minute_ms - " + o + ") % " + w + ") + " + w + ") % " + w;
}

std::string SeriesSql(core::Unit unit) {
  constexpr std::int64_t kDay = 86'400'000;
  std::string bucket, bucket_ms = "b.bucket";
  switch (unit) {
    case core::Unit::kMinute:
      return "SELECT minute_ms, last_value, sum_delta, min_value, max_value FROM history_minute"
             " WHERE count_id = $1 AND minute_ms >= $2 AND minute_ms < $3 ORDER BY minute_ms";
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
      bucket = "date_trunc('month', to_timestamp(minute_ms / 1000) AT TIME ZONE 'UTC')";
      bucket_ms = "(extract(epoch FROM b.bucket) * 1000)::bigint";
      break;
  }
  // The last value of a bucket is that of its latest minute: one primary-key probe per bucket.
  return "WITH b AS (SELECT " + bucket +
         " AS bucket, max(minute_ms) AS last_minute, sum(sum_delta) AS sum_delta,"
         " min(min_value) AS min_value, max(max_value) AS max_value FROM history_minute"
         " WHERE count_id = $1 AND minute_ms >= $2 AND minute_ms < $3 GROUP BY 1)"
         " SELECT " +
         bucket_ms + ", h.last_value, " + Clamp("b.sum_delta") +
         ", b.min_value, b.max_value FROM b JOIN history_minute h"
         " ON h.count_id = $1 AND h.minute_ms = b.last_minute ORDER BY b.bucket";
}

std::size_t Count(const PgResult& r) { return static_cast<std::size_t>(r.Int64(0, 0)); }

}  // namespace

std::size_t PostgresHistoryStore::Record(std::span<const core::Event> events) {
  static const std::string sql =
      "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],"
      " $5::bigint[]) WITH ORDINALITY AS e(event_id, count_id, at_ms, value, delta, n)),"
      " fresh AS (INSERT INTO history_event (event_id, at_ms)"
      " SELECT DISTINCT ON (event_id) event_id, at_ms FROM input ORDER BY event_id, n"
      " ON CONFLICT DO NOTHING RETURNING event_id),"
      " changes AS (SELECT DISTINCT ON (event_id) i.count_id, i.at_ms, i.value, i.delta, i.n"
      " FROM input i JOIN fresh USING (event_id) ORDER BY event_id, i.n), " +
      FoldChanges() + " SELECT count(*) FROM fresh";
  if (events.empty()) return 0;
  auto lease = pool_.Acquire();
  PgTransaction tx(lease);
  std::size_t fresh = 0;
  for (std::size_t start = 0; start < events.size(); start += kChunk) {
    ArrayLiteral ids, counts, times, values, deltas;
    for (const auto& e : events.subspan(start, std::min(kChunk, events.size() - start))) {
      ids.Add(e.event_id);
      counts.Add(e.count_id);
      times.Add(Millis(e.timestamp));
      values.Add(e.value);
      deltas.Add(e.delta);
    }
    fresh += Count(lease.Exec(
        sql, {ids.Take(), counts.Take(), times.Take(), values.Take(), deltas.Take()}));
  }
  tx.Commit();
  return fresh;
}

std::size_t PostgresHistoryStore::Import(std::span<const core::HistoryPoint> points) {
  // Imported points carry no delta: they contribute 0 to sums. The first of duplicate
  // points in one call wins, as an earlier import would.
  static const std::string sql =
      "WITH input AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])"
      " WITH ORDINALITY AS p(count_id, at_ms, value, n)),"
      " firsts AS (SELECT DISTINCT ON (count_id, at_ms) count_id, at_ms, value,"
      " NULL::bigint AS delta, n FROM input ORDER BY count_id, at_ms, n),"
      " fresh AS (INSERT INTO history_import (count_id, at_ms) SELECT count_id, at_ms"
      " FROM firsts ON CONFLICT DO NOTHING RETURNING count_id, at_ms),"
      " changes AS (SELECT f.* FROM firsts f JOIN fresh USING (count_id, at_ms)), " +
      FoldChanges() + " SELECT count(*) FROM fresh";
  if (points.empty()) return 0;
  auto lease = pool_.Acquire();
  PgTransaction tx(lease);
  std::size_t fresh = 0;
  for (std::size_t start = 0; start < points.size(); start += kChunk) {
    ArrayLiteral counts, times, values;
    for (const auto& p : points.subspan(start, std::min(kChunk, points.size() - start))) {
      counts.Add(p.count_id);
      times.Add(Millis(p.timestamp));
      values.Add(p.value);
    }
    fresh += Count(lease.Exec(sql, {counts.Take(), times.Take(), values.Take()}));
  }
  tx.Commit();
  return fresh;
}

std::vector<core::Bucket> PostgresHistoryStore::Series(std::string_view count_id,
                                                       core::Timestamp from, core::Timestamp to,
                                                       core::Unit unit) {
  static const std::string sql[] = {SeriesSql(core::Unit::kMinute), SeriesSql(core::Unit::kHour),
                                    SeriesSql(core::Unit::kDay), SeriesSql(core::Unit::kWeek),
                                    SeriesSql(core::Unit::kMonth)};
  const PgResult r = pool_.Exec(sql[static_cast<int>(unit)],
                                {std::string(count_id), std::to_string(Millis(from)),
                                 std::to_string(Millis(to))});
  std::vector<core::Bucket> buckets(r.rows());
  for (int row = 0; row < r.rows(); ++row)
    buckets[row] = {FromMillis(r.Int64(row, 0)), r.Int64(row, 1), r.Int64(row, 2),
                    r.Int64(row, 3), r.Int64(row, 4)};
  return buckets;
}

std::optional<core::HistoryPoint> PostgresHistoryStore::Latest(std::string_view count_id) {
  const PgResult r = pool_.Exec(
      "SELECT last_value, last_at_ms FROM history_minute WHERE count_id = $1"
      " ORDER BY minute_ms DESC LIMIT 1",
      {std::string(count_id)});
  if (r.rows() == 0) return std::nullopt;
  return core::HistoryPoint{std::string(count_id), FromMillis(r.Int64(0, 1)), r.Int64(0, 0)};
}

std::optional<core::HistoryPoint> PostgresHistoryStore::LastIn(std::string_view count_id,
                                                               core::Timestamp from,
                                                               core::Timestamp to) {
  const PgResult r = pool_.Exec(
      "SELECT last_value, last_at_ms FROM history_minute WHERE count_id = $1"
      " AND minute_ms >= $2 AND minute_ms < $3 ORDER BY minute_ms DESC LIMIT 1",
      {std::string(count_id), std::to_string(Millis(from)), std::to_string(Millis(to))});
  if (r.rows() == 0) return std::nullopt;
  return core::HistoryPoint{std::string(count_id), FromMillis(r.Int64(0, 1)), r.Int64(0, 0)};
}

void PostgresHistoryStore::Purge(std::string_view count_id) {
  // One statement, so one transaction. Remembered event ids stay: a redelivered event of
  // the purged counter must not bring its history back.
  pool_.Exec(
      "WITH imports AS (DELETE FROM history_import WHERE count_id = $1)"
      " DELETE FROM history_minute WHERE count_id = $1",
      {std::string(count_id)});
}

std::size_t PostgresHistoryStore::Prune(core::Timestamp before) {
  // Whole minutes before `before`; remembered event ids and imported points by their time.
  const std::string minute = std::to_string(Millis(BucketStart(before, core::Unit::kMinute)));
  const std::string at = std::to_string(Millis(before));
  const std::string limit = std::to_string(kPruneBatch);
  const auto drain = [&](std::string_view sql, const std::string& bound) {
    std::size_t total = 0;
    for (;;) {
      const auto n = pool_.Exec(sql, {bound, limit}).affected_rows();
      total += static_cast<std::size_t>(n);
      if (n < kPruneBatch) return total;
    }
  };
  const std::size_t minutes = drain(
      "DELETE FROM history_minute WHERE (count_id, minute_ms) IN (SELECT count_id, minute_ms"
      " FROM history_minute WHERE minute_ms < $1 LIMIT $2)",
      minute);
  drain(
      "DELETE FROM history_event WHERE event_id IN"
      " (SELECT event_id FROM history_event WHERE at_ms < $1 LIMIT $2)",
      at);
  drain(
      "DELETE FROM history_import WHERE (count_id, at_ms) IN (SELECT count_id, at_ms"
      " FROM history_import WHERE at_ms < $1 LIMIT $2)",
      at);
  return minutes;
}

bool PostgresHistoryStore::Ping() { return pool_.Ping(); }

}  // namespace count::postgres
