#include "sqlite/sqlite_loop_store.hpp"

#include "core/group_commit.hpp"

namespace count::sqlite {

SqliteLoopCountValueStore::SqliteLoopCountValueStore(SqliteCountValueStore& store)
    : store_(store), writer_([this] { Run(); }) {}

SqliteLoopCountValueStore::~SqliteLoopCountValueStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
}

void SqliteLoopCountValueStore::Apply(std::span<const core::Mutation> mutations,
                                      const core::IdempotencyKey* key,
                                      Done<core::ApplyResult> done) {
  {
    std::lock_guard lock(mu_);
    writes_.push_back({{mutations, key, {}, nullptr}, std::move(done)});
  }
  wake_.notify_one();
}

// A record kept in memory is answered on the caller's loop: the hand-off to the writer
// thread and back (two thread wake-ups) cost more than the read (docs/BENCHMARKS.md).
void SqliteLoopCountValueStore::Get(std::string_view id,
                                    Done<std::optional<core::CountRecord>> done) {
  if (auto record = store_.Cached(id)) return done(nullptr, std::move(record));
  {
    std::lock_guard lock(mu_);
    read_ids_.emplace_back(id);
    reads_.push_back({1, std::move(done), {}});
  }
  wake_.notify_one();
}

void SqliteLoopCountValueStore::GetMany(std::span<const std::string> ids, Done<Records> done) {
  if (ids.empty()) return done(nullptr, {});
  Records cached;
  for (const auto& id : ids) {
    auto record = store_.Cached(id);
    if (!record) break;
    cached.push_back(std::move(record));
  }
  if (cached.size() == ids.size()) return done(nullptr, std::move(cached));
  {
    std::lock_guard lock(mu_);
    read_ids_.insert(read_ids_.end(), ids.begin(), ids.end());
    reads_.push_back({ids.size(), {}, std::move(done)});
  }
  wake_.notify_one();
}

void SqliteLoopCountValueStore::Answer(std::span<const std::string> ids, std::vector<Read>& reads) {
  Records records;
  std::exception_ptr error;
  try {
    records = store_.GetMany(ids);
  } catch (...) {
    error = std::current_exception();
  }
  std::size_t at = 0;
  for (auto& read : reads) {
    if (read.one) {
      read.one(error, error ? std::nullopt : std::move(records[at]));
    } else {
      Records part;
      if (!error)
        part.assign(std::make_move_iterator(records.begin() + static_cast<std::ptrdiff_t>(at)),
                    std::make_move_iterator(records.begin() +
                                            static_cast<std::ptrdiff_t>(at + read.count)));
      read.many(error, std::move(part));
    }
    at += read.count;
  }
}

void SqliteLoopCountValueStore::Run() {
  for (;;) {
    std::deque<Write> batch;
    std::vector<Read> reads;
    std::vector<std::string> read_ids;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !writes_.empty() || !reads_.empty(); });
      if (writes_.empty() && reads_.empty()) return;  // stopping, nothing left to answer
      const std::size_t n =
          core::BatchSize(writes_, SqliteCountValueStore::kMaxBatch,
                          [](const Write& w) { return w.request.mutations.size(); });
      batch.insert(batch.end(), std::make_move_iterator(writes_.begin()),
                   std::make_move_iterator(writes_.begin() + static_cast<std::ptrdiff_t>(n)));
      writes_.erase(writes_.begin(), writes_.begin() + static_cast<std::ptrdiff_t>(n));
      reads.swap(reads_);
      read_ids.swap(read_ids_);
    }
    if (!batch.empty()) {
      std::vector<SqliteCountValueStore::Request*> requests;
      requests.reserve(batch.size());
      for (auto& w : batch) requests.push_back(&w.request);
      store_.ApplyBatch(requests);
      for (auto& w : batch) w.done(w.request.error, std::move(w.request.result));
    }
    if (!reads.empty()) Answer(read_ids, reads);
  }
}

}  // namespace count::sqlite
