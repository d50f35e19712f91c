#pragma once
// HistoryStore on PostgreSQL: the `history_*` tables of the countinfo database
// (migrations/countinfo/0002_history.sql, 0003_history_hour_minutes.sql). Run
// Migrate(pool, "countinfo") before use.
//
// Writes go as arrays (one statement per chunk, all chunks in one transaction); the dedup
// tables, the minute rollups and the hour rollups change in the same statement. Record folds
// a batch per counter and minute (and hour) before sending it, so the statement writes a row
// per bucket, not per event; a batch with an event recorded before (a redelivery) is sent
// again event by event, and only its new events count. A minute
// series reads minutes; hours, days, weeks and months aggregate whole hours in SQL plus the
// minutes of a partial hour at either end of the period, so a year costs ~8,800 rows, not
// ~527,000. The minutes' last values are also packed per hour (one row holds 60), so a
// trend or prediction by minute (LastValues) reads 8,760 rows for a year, in binary.
// Prune drops whole hours.
#include "core/history.hpp"
#include "postgres/pg_pool.hpp"

namespace count::postgres {

class PostgresHistoryStore : public core::HistoryStore {
 public:
  explicit PostgresHistoryStore(PgPool& pool) : pool_(pool) {}

  std::size_t Record(std::span<const core::Event> events) override;
  std::size_t Import(std::span<const core::HistoryPoint> points) override;
  std::vector<core::Bucket> Series(std::string_view count_id, core::Timestamp from,
                                   core::Timestamp to, core::Unit unit) override;
  std::vector<core::BucketValue> LastValues(std::string_view count_id, core::Timestamp from,
                                            core::Timestamp to, core::Unit unit) override;
  std::optional<core::HistoryPoint> Latest(std::string_view count_id) override;
  std::optional<core::HistoryPoint> LastIn(std::string_view count_id, core::Timestamp from,
                                           core::Timestamp to) override;
  void Purge(std::string_view count_id) override;
  std::size_t Prune(core::Timestamp before, std::size_t limit) override;
  bool Ping() override;

 private:
  PgPool& pool_;
};

}  // namespace count::postgres
