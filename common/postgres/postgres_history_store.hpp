#pragma once
// HistoryStore on PostgreSQL: the `history_*` tables of the countinfo database
// (migrations/countinfo/0002_history.sql). Run Migrate(pool, "countinfo") before use.
//
// Writes go in batches as arrays (one statement per chunk, all chunks in one transaction);
// the dedup tables (history_event, history_import) change in the same statement as the
// minute rows. Hours, days and weeks are integer arithmetic on epoch milliseconds, months
// date_trunc in UTC, all aggregated in SQL.
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
  std::optional<core::HistoryPoint> Latest(std::string_view count_id) override;
  std::optional<core::HistoryPoint> LastIn(std::string_view count_id, core::Timestamp from,
                                           core::Timestamp to) override;
  void Purge(std::string_view count_id) override;
  std::size_t Prune(core::Timestamp before) override;
  bool Ping() override;

 private:
  PgPool& pool_;
};

}  // namespace count::postgres
