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

template <class T, class ReadFn>
void SqliteLoopCountValueStore::QueueRead(ReadFn read, Done<T> done) {
  {
    std::lock_guard lock(mu_);
    reads_.push_back([read = std::move(read), done = std::move(done)] {
      T result{};
      std::exception_ptr error;
      try {
        result = read();
      } catch (...) {
        error = std::current_exception();
      }
      done(error, std::move(result));
    });
  }
  wake_.notify_one();
}

void SqliteLoopCountValueStore::Get(std::string_view id,
                                    Done<std::optional<core::CountRecord>> done) {
  QueueRead<std::optional<core::CountRecord>>(
      [this, id = std::string(id)] { return store_.Get(id); }, std::move(done));
}

void SqliteLoopCountValueStore::GetMany(std::span<const std::string> ids,
                                        Done<std::vector<std::optional<core::CountRecord>>> done) {
  QueueRead<std::vector<std::optional<core::CountRecord>>>(
      [this, ids] { return store_.GetMany(ids); }, std::move(done));
}

void SqliteLoopCountValueStore::Run() {
  for (;;) {
    std::deque<Write> batch;
    std::vector<std::function<void()>> reads;
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
    }
    if (!batch.empty()) {
      std::vector<SqliteCountValueStore::Request*> requests;
      requests.reserve(batch.size());
      for (auto& w : batch) requests.push_back(&w.request);
      store_.ApplyBatch(requests);
      for (auto& w : batch) w.done(w.request.error, std::move(w.request.result));
    }
    for (auto& read : reads) read();
  }
}

}  // namespace count::sqlite
