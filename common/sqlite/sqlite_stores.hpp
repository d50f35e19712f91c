#pragma once
// The standalone stores: CountInfo and CountValue in one SQLite database.
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "core/event.hpp"
#include "core/group_commit.hpp"
#include "core/ports.hpp"
#include "sqlite/sqlite_database.hpp"

namespace count::sqlite {

class SqliteCountInfoStore final : public core::CountInfoStore {
 public:
  explicit SqliteCountInfoStore(SqliteDatabase& db) : db_(db) {}
  bool Create(const core::CountInfo& info) override;
  std::optional<core::CountInfo> Get(std::string_view id) override;
  core::CountPage List(std::string_view prefix, std::size_t limit,
                       std::string_view after_id) override;
  bool Update(const core::CountInfo& info) override;
  bool Delete(std::string_view id) override;
  bool Ping() override { return true; }

 private:
  SqliteDatabase& db_;
};

// Where the events of the changes a SqliteCountValueStore applies go. Both calls run with the
// connection lock held, so they see the events in commit order: Record inside the change's
// transaction (what it writes commits with the change, or not at all; a throw undoes the
// change), Committed after the commit (it must not throw: the change is made).
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Record(std::span<const core::Event> events) = 0;
  virtual void Committed(std::span<const core::Event> events) = 0;
};

// The outbox table, for a relay to hand to a bus (SqliteEventOutbox).
class OutboxSink final : public EventSink {
 public:
  explicit OutboxSink(SqliteDatabase& db);
  void Record(std::span<const core::Event> events) override;
  void Committed(std::span<const core::Event>) override { db_.SignalOutbox(); }

 private:
  SqliteDatabase& db_;
  Statement put_;
};

// Every applied change also hands its event to the sink, in the same transaction.
class SqliteCountValueStore final : public core::CountValueStore {
 public:
  // `source` names the service in the events this store records; `sink` takes them (the
  // outbox when none is given).
  SqliteCountValueStore(SqliteDatabase& db, std::string source, EventSink* sink = nullptr);
  ~SqliteCountValueStore() override;

  core::ApplyResult Apply(std::span<const core::Mutation> mutations,
                          const core::IdempotencyKey* key) override;
  std::optional<core::CountRecord> Get(std::string_view id) override;
  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override;
  // The committed record of `id` if it is kept in memory, without touching SQLite: what
  // GetMany read is kept, and every commit that changes a kept record updates or drops it
  // before its caller is answered (docs/ARCHITECTURE.md, "Standalone (SQLite)").
  std::optional<core::CountRecord> Cached(std::string_view id);
  bool Create(const core::CountInfo& info, std::int64_t initial_value) override;
  UpdateResult UpdateInfo(const core::CountInfo& info) override;
  bool Delete(std::string_view id, bool purge_history) override;
  bool Ping() override { return true; }

  static constexpr std::size_t kMaxBatch = 1000;  // mutations in one transaction, at most

  // One write of a group commit: what Apply takes, and its outcome.
  struct Request {
    std::span<const core::Mutation> mutations;
    const core::IdempotencyKey* key;
    core::ApplyResult result;
    std::exception_ptr error;
  };
  // Applies `batch` in one transaction, recording each request's outcome (never throws).
  void ApplyBatch(std::span<Request* const> batch);

 private:
  struct Statements;
  // Applies one request inside the batch's transaction, adding its events to `events`.
  void ApplyLocked(Request& request, std::vector<core::Event>& events);
  std::optional<core::CountRecord> GetLocked(std::string_view id);
  class Cache;
  core::Event MakeEvent(core::EventType type, std::string_view id,
                        std::optional<std::int64_t> delta, std::int64_t value, core::Timestamp at,
                        bool purge_history = false, const core::TraceContext& trace = {}) const;
  // Hands `events` to the sink, commits, and tells the sink (the connection lock held).
  void Commit(SqliteDatabase::Transaction& tx, std::span<const core::Event> events);
  SqliteDatabase& db_;
  std::string source_;
  std::unique_ptr<Statements> st_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<OutboxSink> own_sink_;  // when no sink was given
  EventSink& sink_;
  core::GroupCommit<Request> group_{kMaxBatch};
};

class SqliteEventOutbox final : public core::EventOutbox {
 public:
  explicit SqliteEventOutbox(SqliteDatabase& db) : db_(db) {}
  std::vector<core::Event> Pending(std::size_t max) override;
  void Acknowledge(std::span<const core::Event> events) override;
  std::size_t Backlog() override;
  void Wait(std::chrono::milliseconds max) override;
  bool ReadsAhead() const override { return true; }
  void Rewind() override;

 private:
  SqliteDatabase& db_;
  std::uint64_t seen_signals_ = 0;
  std::int64_t handed_out_ = 0;       // seq of the last event Pending returned
  std::deque<std::int64_t> batches_;  // the last seq of each batch handed out, oldest first
};

}  // namespace count::sqlite
