#include "sqlite/sqlite_stores.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace count::sqlite {
namespace {

using core::CountInfo;
using core::CountRecord;
using core::Timestamp;

std::int64_t Ms(Timestamp t) { return t.time_since_epoch().count(); }
Timestamp FromMs(std::int64_t ms) { return Timestamp{std::chrono::milliseconds(ms)}; }

CountInfo ReadInfo(const Statement& s) {
  return CountInfo{s.Text(0),        s.Text(1),        s.OptInt(2),  s.OptInt(3),
                   FromMs(s.Int(4)), FromMs(s.Int(5)), s.Int(6) != 0};
}

constexpr std::string_view kInfoColumns =
    "id, description, min_value, max_value, created_at, updated_at, sharded";

// Idempotency records keep the outcomes so a replay answers exactly as the first call.
std::string EncodeOutcomes(const core::ApplyResult& r) {
  boost::json::array out;
  for (std::size_t i = 0; i < r.outcomes.size(); ++i) {
    if (const auto* a = std::get_if<core::Applied>(&r.outcomes[i])) {
      boost::json::object o{{"id", a->id}, {"v", a->value}, {"u", Ms(a->updated_at)}};
      if (a->delta) o["d"] = *a->delta;
      out.push_back(std::move(o));
    } else {
      out.push_back(boost::json::object{
          {"e", static_cast<int>(std::get<core::MutationError>(r.outcomes[i]))}});
    }
  }
  return boost::json::serialize(out);
}

std::vector<core::MutationOutcome> DecodeOutcomes(std::string_view text) {
  std::vector<core::MutationOutcome> out;
  const boost::json::value parsed = boost::json::parse(text);
  for (const auto& v : parsed.as_array()) {
    const auto& o = v.as_object();
    if (const auto* e = o.if_contains("e")) {
      out.emplace_back(static_cast<core::MutationError>(e->to_number<int>()));
      continue;
    }
    core::Applied a{std::string(o.at("id").as_string()), o.at("v").to_number<std::int64_t>(),
                    std::nullopt, FromMs(o.at("u").to_number<std::int64_t>())};
    if (const auto* d = o.if_contains("d")) a.delta = d->to_number<std::int64_t>();
    out.emplace_back(std::move(a));
  }
  return out;
}

}  // namespace

// ---- CountInfo ----

bool SqliteCountInfoStore::Create(const CountInfo& info) {
  std::lock_guard lock(db_.mutex());
  Statement s(db_,
              "INSERT OR IGNORE INTO count_info (id, description, min_value, max_value, "
              "created_at, updated_at, sharded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  s.Bind(1, info.id).Bind(2, info.description).Bind(3, info.min_value).Bind(4, info.max_value);
  s.Bind(5, Ms(info.created_at)).Bind(6, Ms(info.updated_at));
  s.Bind(7, std::int64_t{info.sharded}).Run();
  return db_.Changes() > 0;
}

std::optional<CountInfo> SqliteCountInfoStore::Get(std::string_view id) {
  std::lock_guard lock(db_.mutex());
  Statement s(db_, "SELECT " + std::string(kInfoColumns) + " FROM count_info WHERE id = ?1");
  s.Bind(1, id);
  if (!s.Step()) return std::nullopt;
  return ReadInfo(s);
}

core::CountPage SqliteCountInfoStore::List(std::string_view prefix, std::size_t limit,
                                           std::string_view after_id) {
  std::lock_guard lock(db_.mutex());
  // Byte-wise range instead of LIKE: a prefix is matched literally, '%' and '_' included.
  std::string upper(prefix);
  upper.push_back('\x7f');
  Statement s(db_, "SELECT " + std::string(kInfoColumns) +
                       " FROM count_info WHERE id >= ?1 AND id < ?2 AND id > ?3 "
                       "ORDER BY id LIMIT ?4");
  s.Bind(1, prefix).Bind(2, upper).Bind(3, after_id).Bind(4, static_cast<std::int64_t>(limit + 1));
  core::CountPage page;
  while (s.Step()) page.items.push_back(ReadInfo(s));
  if (page.items.size() > limit) {
    page.items.pop_back();
    page.next_cursor = page.items.back().id;
  }
  return page;
}

bool SqliteCountInfoStore::Update(const CountInfo& info) {
  std::lock_guard lock(db_.mutex());
  Statement s(db_,
              "UPDATE count_info SET description = ?2, min_value = ?3, max_value = ?4, "
              "updated_at = ?5 WHERE id = ?1");
  s.Bind(1, info.id).Bind(2, info.description).Bind(3, info.min_value).Bind(4, info.max_value);
  s.Bind(5, Ms(info.updated_at)).Run();
  return db_.Changes() > 0;
}

bool SqliteCountInfoStore::Delete(std::string_view id) {
  std::lock_guard lock(db_.mutex());
  Statement s(db_, "DELETE FROM count_info WHERE id = ?1");
  s.Bind(1, id).Run();
  return db_.Changes() > 0;
}

// ---- CountValue ----

// Hot-path statements, prepared once; used only under the database mutex.
struct SqliteCountValueStore::Statements {
  explicit Statements(SqliteDatabase& db)
      : get(db,
            "SELECT value, updated_at, description, min_value, max_value, created_at, sharded "
            "FROM count_value WHERE id = ?1"),
        update(db, "UPDATE count_value SET value = ?2, updated_at = ?3 WHERE id = ?1"),
        insert(db,
               "INSERT OR IGNORE INTO count_value (id, value, created_at, updated_at, "
               "description, min_value, max_value, sharded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
               "?8)"),
        idem_get(
            db, "SELECT fingerprint, outcomes FROM idempotency WHERE key = ?1 AND expires_at > ?2"),
        idem_put(db,
                 "INSERT OR REPLACE INTO idempotency (key, fingerprint, outcomes, expires_at) "
                 "VALUES (?1, ?2, ?3, ?4)"),
        idem_expire(db, "DELETE FROM idempotency WHERE expires_at <= ?1") {}
  Statement get, update, insert, idem_get, idem_put, idem_expire;
};

// Records read by GetMany, for the loops to read without a hand-off to the writer thread.
// Bounded: when full it starts over (a hot set larger than that is read from SQLite).
class SqliteCountValueStore::Cache {
 public:
  std::optional<CountRecord> Find(std::string_view id) {
    std::lock_guard lock(mu_);
    const auto it = records_.find(id);
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }
  void Put(const CountRecord& r) {
    std::lock_guard lock(mu_);
    if (records_.size() >= kMaxRecords) records_.clear();
    records_.insert_or_assign(r.id, r);
  }
  // What a commit changed: an applied value, or a record dropped (created, deleted, its
  // description or bounds changed).
  void Committed(std::span<const core::Event> events) {
    std::lock_guard lock(mu_);
    for (const auto& e : events) {
      const auto it = records_.find(e.count_id);
      if (it == records_.end()) continue;
      if (e.type == core::EventType::kUpdated) {
        it->second.value = e.value;
        it->second.updated_at = e.timestamp;
      } else {
        records_.erase(it);
      }
    }
  }
  void Drop(std::string_view id) {
    std::lock_guard lock(mu_);
    if (const auto it = records_.find(id); it != records_.end()) records_.erase(it);
  }

 private:
  static constexpr std::size_t kMaxRecords = 65'536;
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::mutex mu_;
  std::unordered_map<std::string, CountRecord, TextHash, std::equal_to<>> records_;
};

OutboxSink::OutboxSink(SqliteDatabase& db)
    : db_(db),
      put_(db,
           "INSERT INTO outbox (event_id, type, count_id, delta, value, timestamp, source, "
           "purge_history, traceparent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)") {}

void OutboxSink::Record(std::span<const core::Event> events) {
  for (const auto& e : events) {
    put_.Reset();
    put_.Bind(1, e.event_id).Bind(2, core::ToString(e.type)).Bind(3, e.count_id);
    put_.Bind(4, e.delta).Bind(5, e.value).Bind(6, Ms(e.timestamp)).Bind(7, e.source);
    put_.Bind(8, std::int64_t{e.purge_history});
    if (e.trace.IsValid()) put_.Bind(9, e.trace.Format());
    put_.Run();
  }
}

SqliteCountValueStore::SqliteCountValueStore(SqliteDatabase& db, std::string source,
                                             EventSink* sink)
    : db_(db),
      source_(std::move(source)),
      st_(std::make_unique<Statements>(db)),
      cache_(std::make_unique<Cache>()),
      own_sink_(sink ? nullptr : std::make_unique<OutboxSink>(db)),
      sink_(sink ? *sink : *own_sink_) {}

core::Event SqliteCountValueStore::MakeEvent(core::EventType type, std::string_view id,
                                             std::optional<std::int64_t> delta, std::int64_t value,
                                             Timestamp at, bool purge_history,
                                             const core::TraceContext& trace) const {
  core::Event e{core::NewEventId(), type, std::string(id), delta, value, at, source_};
  e.purge_history = purge_history;
  e.trace = trace;
  return e;
}

void SqliteCountValueStore::Commit(SqliteDatabase::Transaction& tx,
                                   std::span<const core::Event> events) {
  if (events.empty()) return tx.Commit();
  sink_.Record(events);
  tx.Commit();
  cache_->Committed(events);
  sink_.Committed(events);
}

SqliteCountValueStore::~SqliteCountValueStore() = default;

std::optional<CountRecord> SqliteCountValueStore::GetLocked(std::string_view id) {
  auto& s = st_->get;
  s.Reset();
  s.Bind(1, id);
  std::optional<CountRecord> r;
  if (s.Step())
    r = CountRecord{std::string(id), s.Int(0),         s.Text(2),        s.OptInt(3),
                    s.OptInt(4),     FromMs(s.Int(5)), FromMs(s.Int(1)), s.Int(6) != 0};
  s.Reset();
  return r;
}

// One Apply call waiting for its turn in a group commit.
core::ApplyResult SqliteCountValueStore::Apply(std::span<const core::Mutation> mutations,
                                               const core::IdempotencyKey* key) {
  // Concurrent calls share one transaction (core/group_commit.hpp).
  Request me{mutations, key, {}, nullptr};
  group_.Submit(me, mutations.size(),
                [this](std::span<Request* const> batch) { ApplyBatch(batch); });
  if (me.error) std::rethrow_exception(me.error);
  return std::move(me.result);
}

void SqliteCountValueStore::ApplyBatch(std::span<Request* const> batch) {
  std::lock_guard lock(db_.mutex());
  try {
    SqliteDatabase::Transaction tx(db_);
    std::vector<core::Event> events;
    for (auto* request : batch) ApplyLocked(*request, events);
    Commit(tx, events);
  } catch (...) {
    for (auto* request : batch) request->error = std::current_exception();
  }
}

void SqliteCountValueStore::ApplyLocked(Request& request, std::vector<core::Event>& events) {
  const auto now = core::Now();
  auto& result = request.result;
  const auto* key = request.key;
  if (key) {
    auto& g = st_->idem_get;
    g.Reset();
    g.Bind(1, key->key).Bind(2, Ms(now));
    if (g.Step()) {
      if (g.Text(0) != key->fingerprint) {
        result.status = core::ApplyResult::Status::kKeyConflict;
      } else {
        result.status = core::ApplyResult::Status::kReplayed;
        result.outcomes = DecodeOutcomes(g.Text(1));
      }
      g.Reset();
      return;
    }
    g.Reset();
  }
  bool any_applied = false;
  for (const auto& m : request.mutations) {
    const auto current = GetLocked(m.id);
    if (!current) {
      result.outcomes.emplace_back(core::MutationError::kNotFound);
      continue;
    }
    // One file, one shard: a sharded counter stays one row, with the same rules as on a
    // Redis Cluster (no `set`), so its rules do not depend on the deployment.
    auto outcome = core::ApplyTo(m, *current);
    if (auto* applied = std::get_if<core::Applied>(&outcome)) {
      applied->updated_at = now;
      st_->update.Reset();
      st_->update.Bind(1, m.id).Bind(2, applied->value).Bind(3, Ms(now)).Run();
      events.push_back(MakeEvent(core::EventType::kUpdated, m.id, applied->delta, applied->value,
                                 now, false, m.trace));
      any_applied = true;
    }
    result.outcomes.push_back(std::move(outcome));
  }
  if (key && any_applied) {
    auto& p = st_->idem_put;
    p.Reset();
    p.Bind(1, key->key).Bind(2, key->fingerprint).Bind(3, EncodeOutcomes(result));
    p.Bind(4, Ms(now) + core::kIdempotencyTtlSeconds * 1000).Run();
    st_->idem_expire.Reset();
    st_->idem_expire.Bind(1, Ms(now)).Run();
  }
}

std::optional<CountRecord> SqliteCountValueStore::Get(std::string_view id) {
  std::lock_guard lock(db_.mutex());
  return GetLocked(id);
}

std::vector<std::optional<CountRecord>> SqliteCountValueStore::GetMany(
    std::span<const std::string> ids) {
  std::lock_guard lock(db_.mutex());
  std::vector<std::optional<CountRecord>> out;
  out.reserve(ids.size());
  {
    // One snapshot, and SQLite's read lock taken once (two fcntl calls) rather than per id.
    std::optional<SqliteDatabase::Transaction> tx;
    if (ids.size() > 1) tx.emplace(db_, SqliteDatabase::Transaction::Kind::kRead);
    for (const auto& id : ids) out.push_back(GetLocked(id));
    if (tx) tx->Commit();
  }
  for (const auto& r : out)
    if (r) cache_->Put(*r);
  return out;
}

std::optional<CountRecord> SqliteCountValueStore::Cached(std::string_view id) {
  return cache_->Find(id);
}

bool SqliteCountValueStore::Create(const CountInfo& info, std::int64_t initial_value) {
  std::lock_guard lock(db_.mutex());
  SqliteDatabase::Transaction tx(db_);
  const auto created = info.created_at == Timestamp{} ? core::Now() : info.created_at;
  const auto updated = info.updated_at == Timestamp{} ? created : info.updated_at;
  auto& s = st_->insert;
  s.Reset();
  s.Bind(1, info.id).Bind(2, initial_value).Bind(3, Ms(created)).Bind(4, Ms(updated));
  s.Bind(5, info.description).Bind(6, info.min_value).Bind(7, info.max_value);
  s.Bind(8, std::int64_t{info.sharded}).Run();
  if (db_.Changes() == 0) return false;
  const auto event =
      MakeEvent(core::EventType::kCreated, info.id, initial_value, initial_value, created);
  Commit(tx, std::span(&event, 1));
  return true;
}

core::CountValueStore::UpdateResult SqliteCountValueStore::UpdateInfo(const CountInfo& info) {
  std::lock_guard lock(db_.mutex());
  SqliteDatabase::Transaction tx(db_);
  const auto current = GetLocked(info.id);
  if (!current) return UpdateResult::kNotFound;
  if (!core::WithinBounds(current->value, info.min_value, info.max_value))
    return UpdateResult::kValueOutsideBounds;
  // The check and the change in one transaction: atomic against concurrent writes.
  const auto updated = info.updated_at == Timestamp{} ? core::Now() : info.updated_at;
  Statement s(db_,
              "UPDATE count_value SET description = ?2, min_value = ?3, max_value = ?4, "
              "updated_at = ?5 WHERE id = ?1");
  s.Bind(1, info.id).Bind(2, info.description).Bind(3, info.min_value).Bind(4, info.max_value);
  s.Bind(5, Ms(updated)).Run();
  const auto event = MakeEvent(core::EventType::kUpdated, info.id, 0, current->value, updated);
  Commit(tx, std::span(&event, 1));
  cache_->Drop(info.id);  // its description and bounds changed, not only its value
  return UpdateResult::kUpdated;
}

bool SqliteCountValueStore::Delete(std::string_view id, bool purge_history) {
  std::lock_guard lock(db_.mutex());
  SqliteDatabase::Transaction tx(db_);
  const auto current = GetLocked(id);
  if (!current) return false;
  Statement s(db_, "DELETE FROM count_value WHERE id = ?1");
  s.Bind(1, id).Run();
  std::optional<std::int64_t> delta;
  if (current->value != INT64_MIN) delta = -current->value;
  const auto event =
      MakeEvent(core::EventType::kDeleted, id, delta, current->value, core::Now(), purge_history);
  Commit(tx, std::span(&event, 1));
  return true;
}

// ---- Outbox ----

std::vector<core::Event> SqliteEventOutbox::Pending(std::size_t max) {
  seen_signals_ = db_.OutboxSignals();
  ConnectionLock::Urgent lock(db_.mutex());  // a relay goes first (sqlite_database.hpp)
  Statement s(db_,
              "SELECT seq, event_id, type, count_id, delta, value, timestamp, source, "
              "purge_history, traceparent FROM outbox WHERE seq > ?2 ORDER BY seq LIMIT ?1");
  s.Bind(1, static_cast<std::int64_t>(max)).Bind(2, handed_out_);
  std::vector<core::Event> events;
  while (s.Step()) {
    handed_out_ = s.Int(0);
    events.push_back({s.Text(1),
                      core::ParseEventType(s.Text(2)).value_or(core::EventType::kUpdated),
                      s.Text(3), s.OptInt(4), s.Int(5), FromMs(s.Int(6)), s.Text(7), s.Int(8) != 0,
                      core::ParseTraceparent(s.Text(9)).value_or(core::TraceContext{})});
  }
  if (!events.empty()) batches_.push_back(handed_out_);
  return events;
}

void SqliteEventOutbox::Acknowledge(std::span<const core::Event>) {
  // Batches are read in seq order and acknowledged oldest first, and seq only grows: the
  // oldest batch is everything up to its last seq. One range delete instead of one per event.
  if (batches_.empty()) return;
  ConnectionLock::Urgent lock(db_.mutex());  // a relay goes first (sqlite_database.hpp)
  Statement s(db_, "DELETE FROM outbox WHERE seq <= ?1");
  s.Bind(1, batches_.front()).Run();
  batches_.pop_front();
}

void SqliteEventOutbox::Rewind() {
  batches_.clear();
  handed_out_ = 0;
}

std::size_t SqliteEventOutbox::Backlog() {
  std::lock_guard lock(db_.mutex());
  Statement s(db_, "SELECT count(*) FROM outbox");
  s.Step();
  return static_cast<std::size_t>(s.Int(0));
}

void SqliteEventOutbox::Wait(std::chrono::milliseconds max) {
  db_.WaitForOutbox(seen_signals_, max);
}

}  // namespace count::sqlite
