#pragma once
// HistoryStore on SQLite for the standalone binary: the `history_*` tables of the shared
// database (schema in sqlite_database.cpp), with the same rules as the PostgreSQL store.
#include "core/history.hpp"
#include "sqlite/sqlite_database.hpp"

namespace count::sqlite {

class SqliteHistoryStore final : public core::HistoryStore {
 public:
  // Registers the SQL functions saturating_add(a, b) and saturating_sum(x) on `db`.
  explicit SqliteHistoryStore(SqliteDatabase& db);

  std::size_t Record(std::span<const core::Event> events) override;
  // Records `events` inside the caller's write transaction, the connection lock held: the
  // events of changes committed in that same transaction (standalone, docs/ARCHITECTURE.md,
  // "Events"), which therefore come exactly once and need no event-id memory.
  void RecordInTransaction(std::span<const core::Event> events);
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
  bool Ping() override { return true; }

 private:
  void PurgeLocked(std::string_view count_id);
  std::optional<core::HistoryPoint> Last(std::string_view count_id, std::int64_t from_ms,
                                         std::int64_t to_ms);

  SqliteDatabase& db_;
};

}  // namespace count::sqlite
