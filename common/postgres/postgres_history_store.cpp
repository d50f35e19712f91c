#include "postgres/postgres_history_store.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "postgres/pg_binary.hpp"

namespace count::postgres {
namespace {

using namespace std::chrono_literals;

// Rows per statement: keeps each statement well inside the statement timeout.
constexpr std::size_t kChunk = 20'000;
constexpr std::int64_t kMinuteMs = 60'000, kHourMs = 3'600'000, kDayMs = 86'400'000;

std::int64_t Millis(core::Timestamp t) { return t.time_since_epoch().count(); }
std::string Text(core::Timestamp t) { return std::to_string(Millis(t)); }
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
std::string Clamp(const std::string& expr) {
  return "LEAST(GREATEST(" + expr + ", -9223372036854775808), 9223372036854775807)::bigint";
}

// The start (epoch ms) of the `width` bucket counted from `origin` that holds `column`:
// a floor, so times before 1970 work too.
std::string Floor(const std::string& column, std::int64_t width, std::int64_t origin = 0) {
  const std::string w = std::to_string(width), o = std::to_string(origin);
  return column + " - (((" + column + " - " + o + ") % " + w + ") + " + w + ") % " + w;
}

// A CTE upserting the buckets that `rows` selects (count_id, key, last_value, last_at_ms,
// sum_delta, min_value, max_value) into `table`, whose buckets are keyed by `key`: a stored
// row keeps its last value when it is later. `<table>_upserted` returns each changed bucket's
// count_id, key and resulting last value.
std::string Upsert(const std::string& table, const std::string& key, const std::string& rows) {
  return table + "_upserted AS (INSERT INTO " + table + " AS h (count_id, " + key +
         ", last_value, last_at_ms, sum_delta, min_value, max_value) " + rows +
         " ON CONFLICT (count_id, " + key +
         ") DO UPDATE SET"
         " last_value = CASE WHEN EXCLUDED.last_at_ms >= h.last_at_ms"
         " THEN EXCLUDED.last_value ELSE h.last_value END,"
         " last_at_ms = GREATEST(h.last_at_ms, EXCLUDED.last_at_ms), sum_delta = " +
         Clamp("h.sum_delta::numeric + EXCLUDED.sum_delta") +
         ", min_value = LEAST(h.min_value, EXCLUDED.min_value),"
         " max_value = GREATEST(h.max_value, EXCLUDED.max_value) RETURNING count_id, " +
         key + ", last_value)";
}

// CTEs folding `changes(count_id, at_ms, value, delta, n)` into `table`, whose buckets are
// `width` ms long and keyed by `key`. The latest change (by time, then input order) gives a
// bucket its last value.
std::string Fold(const std::string& table, const std::string& key, std::int64_t width) {
  return table + "_rolled AS (SELECT count_id, " + Floor("at_ms", width) + " AS " + key +
         ", (array_agg(value ORDER BY at_ms DESC, n DESC))[1] AS last_value,"
         " max(at_ms) AS last_at_ms, sum(coalesce(delta, 0)) AS sum_delta,"
         " min(value) AS min_value, max(value) AS max_value FROM changes GROUP BY 1, 2), " +
         Upsert(table, key,
                "SELECT count_id, " + key + ", last_value, last_at_ms, " + Clamp("sum_delta") +
                    ", min_value, max_value FROM " + table + "_rolled ORDER BY count_id, " + key);
}

// The same upsert from buckets rolled up by the caller (Rollups below), sent as seven arrays
// from parameter $`first` on.
std::string UpsertRolled(const std::string& table, const std::string& key, int first) {
  std::string rows = "SELECT * FROM unnest(";
  for (int i = 0; i < 7; ++i)
    rows += (i ? ", $" : "$") + std::to_string(first + i) + (i ? "::bigint[]" : "::text[]");
  return Upsert(table, key, rows + ")");
}

// A CTE writing the minutes' last values that `history_minute_upserted` returns into their
// hours' slots in history_hour_minutes (migrations/countinfo/0003_history_hour_minutes.sql).
std::string PackMinutes() {
  return "history_hour_minutes_patched AS (INSERT INTO history_hour_minutes AS h"
         " (count_id, hour_ms, last_values) SELECT count_id, hour_ms,"
         " history_minute_slots(array_agg(((minute_ms - hour_ms) / 60000 + 1)::int),"
         " array_agg(last_value)) FROM (SELECT count_id, minute_ms, last_value, " +
         Floor("minute_ms", kHourMs) +
         " AS hour_ms FROM history_minute_upserted) AS m"
         " GROUP BY count_id, hour_ms ORDER BY count_id, hour_ms"
         " ON CONFLICT (count_id, hour_ms) DO UPDATE SET"
         " last_values = history_patch_slots(h.last_values, EXCLUDED.last_values) RETURNING 1)";
}

// Minutes, their hours and their packed last values, in one statement.
std::string FoldAll() {
  return Fold("history_minute", "minute_ms", kMinuteMs) + ", " +
         Fold("history_hour", "hour_ms", kHourMs) + ", " + PackMinutes();
}

// The same from minutes ($3..$9) and hours ($10..$16) rolled up by the caller.
std::string UpsertAllRolled() {
  return UpsertRolled("history_minute", "minute_ms", 3) + ", " +
         UpsertRolled("history_hour", "hour_ms", 10) + ", " + PackMinutes();
}

// The changes of one bucket (a counter's minute or hour), folded as Fold does in SQL.
struct Rollup {
  std::int64_t last_value = 0, last_at_ms = 0, min_value = 0, max_value = 0;
  __int128 sum_delta = 0;  // exact: clamped to bigint only when sent, as SQL's numeric sum
};

// The events folded per counter and bucket of `width` ms, as seven arrays (count_id, bucket,
// last_value, last_at_ms, sum_delta, min_value, max_value), in key order (so concurrent
// writers lock rows in one order).
std::vector<std::string> Rollups(std::span<const core::Event* const> events, std::int64_t width) {
  std::map<std::pair<std::string_view, std::int64_t>, Rollup> buckets;
  for (const core::Event* e : events) {
    const std::int64_t at = Millis(e->timestamp);
    const std::int64_t bucket = at - (((at % width) + width) % width);
    auto [it, fresh] = buckets.try_emplace({e->count_id, bucket});
    Rollup& r = it->second;
    if (fresh) r.min_value = r.max_value = e->value;
    if (fresh || at >= r.last_at_ms) {  // a tie: the later in the batch wins
      r.last_value = e->value;
      r.last_at_ms = at;
    }
    r.sum_delta += e->delta.value_or(0);
    r.min_value = std::min(r.min_value, e->value);
    r.max_value = std::max(r.max_value, e->value);
  }
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  ArrayLiteral ids, keys, lasts, ats, sums, mins, maxs;
  for (const auto& [key, r] : buckets) {
    ids.Add(key.first);
    keys.Add(key.second);
    lasts.Add(r.last_value);
    ats.Add(r.last_at_ms);
    sums.Add(static_cast<std::int64_t>(std::clamp<__int128>(r.sum_delta, kMin, kMax)));
    mins.Add(r.min_value);
    maxs.Add(r.max_value);
  }
  return {ids.Take(), keys.Take(), lasts.Take(), ats.Take(), sums.Take(), mins.Take(), maxs.Take()};
}

// $1 count id, [$2, $3) the period, [$4, $5) the whole hours inside it.
std::string SeriesSql(core::Unit unit) {
  if (unit == core::Unit::kMinute)
    return "SELECT minute_ms, last_value, sum_delta, min_value, max_value FROM history_minute"
           " WHERE count_id = $1 AND minute_ms >= $2 AND minute_ms < $3 ORDER BY minute_ms";
  std::string bucket = Floor("at_ms", kHourMs), bucket_ms = "bucket";
  if (unit == core::Unit::kDay) bucket = Floor("at_ms", kDayMs);
  if (unit == core::Unit::kWeek)
    bucket = Floor("at_ms", 7 * kDayMs, 4 * kDayMs);  // 1970-01-05: Mon
  if (unit == core::Unit::kMonth) {
    bucket = "date_trunc('month', to_timestamp(at_ms / 1000) AT TIME ZONE 'UTC')";
    bucket_ms = "(extract(epoch FROM bucket) * 1000)::bigint";
  }
  constexpr std::string_view kColumns = "last_value, sum_delta, min_value, max_value";
  return "WITH parts AS ("
         "SELECT hour_ms AS at_ms, " +
         std::string(kColumns) +
         " FROM history_hour WHERE count_id = $1 AND hour_ms >= $4 AND hour_ms < $5"
         " UNION ALL SELECT minute_ms, " +
         std::string(kColumns) +
         " FROM history_minute WHERE count_id = $1 AND minute_ms >= $2 AND minute_ms < $4"
         " UNION ALL SELECT minute_ms, " +
         std::string(kColumns) +
         " FROM history_minute WHERE count_id = $1 AND minute_ms >= $5 AND minute_ms < $3),"
         " buckets AS (SELECT " +
         bucket +
         " AS bucket, (array_agg(last_value ORDER BY at_ms DESC))[1] AS last_value,"
         " sum(sum_delta) AS sum_delta, min(min_value) AS min_value,"
         " max(max_value) AS max_value FROM parts GROUP BY 1)"
         " SELECT " +
         bucket_ms + ", last_value, " + Clamp("sum_delta") +
         ", min_value, max_value FROM buckets ORDER BY bucket";
}

std::size_t Count(const PgResult& r) { return static_cast<std::size_t>(r.Int64(0, 0)); }

std::optional<core::HistoryPoint> ReadPoint(const PgResult& r, std::string_view count_id) {
  if (r.rows() == 0) return std::nullopt;
  return core::HistoryPoint{std::string(count_id), FromMillis(r.Int64(0, 1)), r.Int64(0, 0)};
}

}  // namespace

std::size_t PostgresHistoryStore::Record(std::span<const core::Event> events) {
  // Most batches hold only events never recorded. Their ids go in with a plain INSERT, which
  // fails (unique_violation) on an id recorded before, and their changes arrive folded per
  // counter and minute, and per counter and hour (Rollups): the statement writes one row per
  // bucket and no aggregate runs over the events in SQL.
  static const std::string rolled_sql =
      "WITH fresh AS (INSERT INTO history_event (event_id, at_ms)"
      " SELECT * FROM unnest($1::text[], $2::bigint[])), " +
      UpsertAllRolled() + " SELECT 1";
  // Repeated event ids inside the batch count once (the first is kept).
  std::vector<const core::Event*> unique;
  unique.reserve(events.size());
  std::unordered_set<std::string_view> seen;
  seen.reserve(events.size());
  for (const auto& e : events)
    if (seen.insert(e.event_id).second) unique.push_back(&e);
  if (unique.empty()) return 0;
  auto lease = pool_.Acquire();
  // The events of sharded counters' parts carry their counter's value from here on
  // (core::CounterValues): its last recorded value plus their deltas.
  std::deque<core::Event> copies;
  auto counter_values = [&](std::vector<const core::Event*>& fresh) {
    const auto counters = core::CountersOfParts(fresh);
    if (counters.empty()) return;
    ArrayLiteral ids;
    for (const auto& id : counters) ids.Add(id);
    const auto r = lease.Exec(
        "SELECT DISTINCT ON (count_id) count_id, last_value, last_at_ms FROM history_minute"
        " WHERE count_id = ANY($1::text[]) ORDER BY count_id, minute_ms DESC",
        {ids.Take()});
    std::vector<core::HistoryPoint> latest;
    for (int row = 0; row < r.rows(); ++row)
      latest.push_back({r.String(row, 0), FromMillis(r.Int64(row, 2)), r.Int64(row, 1)});
    core::CounterValues(fresh, latest, copies);
  };
  // Folds `fresh` with rolled_sql, remembering their ids too unless `remembered`.
  auto fold = [&](std::span<const core::Event* const> fresh, bool remembered) {
    for (std::size_t start = 0; start < fresh.size(); start += kChunk) {
      const auto chunk = fresh.subspan(start, std::min(kChunk, fresh.size() - start));
      ArrayLiteral ids, times;
      if (!remembered)
        for (const core::Event* e : chunk) {
          ids.Add(e->event_id);
          times.Add(Millis(e->timestamp));
        }
      PgParams params = {ids.Take(), times.Take()};
      for (auto width : {kMinuteMs, kHourMs})
        for (auto& array : Rollups(chunk, width)) params.push_back(std::move(array));
      lease.Exec(rolled_sql, params);
    }
  };
  try {
    std::vector<const core::Event*> fresh = unique;
    counter_values(fresh);
    // One statement is a transaction of its own; several need one around them.
    std::optional<PgTransaction> tx;
    if (unique.size() > kChunk) tx.emplace(lease);
    fold(fresh, /*remembered=*/false);
    if (tx) tx->Commit();
    return unique.size();
  } catch (const PgError& e) {
    if (e.sqlstate() != "23505") throw;  // not unique_violation: not a redelivery
  }
  // A batch with a redelivered event: its ids go in with INSERT … ON CONFLICT DO NOTHING,
  // which returns the fresh ones, and only they are folded, in the same transaction.
  copies.clear();
  PgTransaction tx(lease);
  std::unordered_set<std::string> fresh_ids;
  for (std::size_t start = 0; start < unique.size(); start += kChunk) {
    ArrayLiteral ids, times;
    for (std::size_t i = start; i < std::min(start + kChunk, unique.size()); ++i) {
      ids.Add(unique[i]->event_id);
      times.Add(Millis(unique[i]->timestamp));
    }
    const auto r = lease.Exec(
        "INSERT INTO history_event (event_id, at_ms) SELECT * FROM unnest($1::text[],"
        " $2::bigint[]) ON CONFLICT DO NOTHING RETURNING event_id",
        {ids.Take(), times.Take()});
    for (int row = 0; row < r.rows(); ++row) fresh_ids.insert(r.String(row, 0));
  }
  std::vector<const core::Event*> fresh;
  for (const core::Event* e : unique)
    if (fresh_ids.contains(e->event_id)) fresh.push_back(e);
  counter_values(fresh);
  fold(fresh, /*remembered=*/true);
  tx.Commit();
  return fresh.size();
}

std::size_t PostgresHistoryStore::Import(std::span<const core::HistoryPoint> points) {
  // Imported points carry no delta: they contribute 0 to sums. Of duplicate points in one
  // call the first wins, as it would over two calls.
  static const std::string sql =
      "WITH input AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])"
      " WITH ORDINALITY AS p(count_id, at_ms, value, n)),"
      " firsts AS (SELECT DISTINCT ON (count_id, at_ms) count_id, at_ms, value,"
      " NULL::bigint AS delta, n FROM input ORDER BY count_id, at_ms, n),"
      " fresh AS (INSERT INTO history_import (count_id, at_ms) SELECT count_id, at_ms"
      " FROM firsts ON CONFLICT DO NOTHING RETURNING count_id, at_ms),"
      " changes AS (SELECT f.* FROM firsts f JOIN fresh USING (count_id, at_ms)), " +
      FoldAll() + " SELECT count(*) FROM fresh";
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
  // The whole hours [first, last) inside [from, to); none when the period is shorter.
  auto first = BucketStart(from, core::Unit::kHour);
  if (first < from) first += 1h;
  auto last = BucketStart(to, core::Unit::kHour);
  if (first >= last) first = last = to;
  PgParams params = {std::string(count_id), Text(from), Text(to)};
  if (unit != core::Unit::kMinute) params.insert(params.end(), {Text(first), Text(last)});
  const PgResult r = pool_.Exec(sql[static_cast<int>(unit)], params);
  std::vector<core::Bucket> buckets(r.rows());
  for (int row = 0; row < r.rows(); ++row)
    buckets[row] = {FromMillis(r.Int64(row, 0)), r.Int64(row, 1), r.Int64(row, 2), r.Int64(row, 3),
                    r.Int64(row, 4)};
  return buckets;
}

std::vector<core::BucketValue> PostgresHistoryStore::LastValues(std::string_view count_id,
                                                                core::Timestamp from,
                                                                core::Timestamp to,
                                                                core::Unit unit) {
  if (unit != core::Unit::kMinute) return HistoryStore::LastValues(count_id, from, to, unit);
  // The hours overlapping [from, to), packed, in binary: a year is 8,760 rows.
  const PgResult r = pool_.Exec(
      "SELECT hour_ms, last_values FROM history_hour_minutes"
      " WHERE count_id = $1 AND hour_ms >= $2 AND hour_ms < $3 ORDER BY hour_ms",
      {std::string(count_id), Text(BucketStart(from, core::Unit::kHour)), Text(to)},
      PgFormat::kBinary);
  std::vector<core::BucketValue> values;
  values.reserve(static_cast<std::size_t>(r.rows()) * 60);
  std::vector<std::optional<std::int64_t>> slots;
  for (int row = 0; row < r.rows(); ++row) {
    const auto hour = FromMillis(DecodeInt8(r.Text(row, 0)));
    DecodeInt8Array(r.Text(row, 1), slots);
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const auto minute = hour + std::chrono::minutes(i);
      if (slots[i] && minute >= from && minute < to) values.push_back({minute, *slots[i]});
    }
  }
  return values;
}

std::optional<core::HistoryPoint> PostgresHistoryStore::Latest(std::string_view count_id) {
  return ReadPoint(pool_.Exec("SELECT last_value, last_at_ms FROM history_minute"
                              " WHERE count_id = $1 ORDER BY minute_ms DESC LIMIT 1",
                              {std::string(count_id)}),
                   count_id);
}

std::optional<core::HistoryPoint> PostgresHistoryStore::LastIn(std::string_view count_id,
                                                               core::Timestamp from,
                                                               core::Timestamp to) {
  return ReadPoint(
      pool_.Exec("SELECT last_value, last_at_ms FROM history_minute WHERE count_id = $1"
                 " AND minute_ms >= $2 AND minute_ms < $3 ORDER BY minute_ms DESC LIMIT 1",
                 {std::string(count_id), Text(from), Text(to)}),
      count_id);
}

void PostgresHistoryStore::Purge(std::string_view count_id) {
  // One statement, so one transaction. Remembered event ids stay: a redelivered event of
  // the purged counter must not bring its history back.
  pool_.Exec(
      "WITH imports AS (DELETE FROM history_import WHERE count_id = $1),"
      " hours AS (DELETE FROM history_hour WHERE count_id = $1),"
      " packed AS (DELETE FROM history_hour_minutes WHERE count_id = $1)"
      " DELETE FROM history_minute WHERE count_id = $1",
      {std::string(count_id)});
}

std::size_t PostgresHistoryStore::Prune(core::Timestamp before, std::size_t limit) {
  // Whole hours before `before`, so minutes and hours agree, with the event ids and imported
  // points that fell in them: a kept hour keeps them, so a redelivery into it still counts
  // once. One short statement per table, deleting by row address (a TID scan).
  const PgParams params = {Text(BucketStart(before, core::Unit::kHour)), std::to_string(limit)};
  std::size_t dropped = 0;
  for (const auto& [table, time] : {std::pair{"history_minute", "minute_ms"},
                                    {"history_hour", "hour_ms"},
                                    {"history_hour_minutes", "hour_ms"},
                                    {"history_event", "at_ms"},
                                    {"history_import", "at_ms"}}) {
    const std::string sql = std::string("DELETE FROM ") + table +
                            " WHERE ctid = ANY (ARRAY(SELECT ctid FROM " + table + " WHERE " +
                            time + " < $1 LIMIT $2))";
    dropped += static_cast<std::size_t>(pool_.Exec(sql, params).affected_rows());
  }
  return dropped;
}

bool PostgresHistoryStore::Ping() { return pool_.Ping(); }

}  // namespace count::postgres
