#pragma once
// count-system's value store for the event loops: no loop thread ever waits on SQLite.
// Writes queue for one writer thread, which applies everything queued as one transaction
// (group commit with no thread blocked per request) and answers each. A read of records the
// store keeps in memory (SqliteCountValueStore::Cached) is answered on the loop; other reads
// queue for the writer thread too, so they never wait on a commit inside a loop, and what
// queued together is read in one read transaction. docs/ARCHITECTURE.md, "Standalone".
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "core/ports.hpp"
#include "sqlite/sqlite_stores.hpp"

namespace count::sqlite {

class SqliteLoopCountValueStore final : public core::AsyncCountValueStore {
 public:
  explicit SqliteLoopCountValueStore(SqliteCountValueStore& store);
  // Answers what is queued, then stops the writer thread.
  ~SqliteLoopCountValueStore() override;

  void Apply(std::span<const core::Mutation> mutations, const core::IdempotencyKey* key,
             Done<core::ApplyResult> done) override;
  void Get(std::string_view id, Done<std::optional<core::CountRecord>> done) override;
  void GetMany(std::span<const std::string> ids,
               Done<std::vector<std::optional<core::CountRecord>>> done) override;

 private:
  using Records = std::vector<std::optional<core::CountRecord>>;
  struct Write {
    SqliteCountValueStore::Request request;
    Done<core::ApplyResult> done;
  };
  // A Get (`one`) or a GetMany (`many`) of `count` ids, queued in read_ids_.
  struct Read {
    std::size_t count;
    Done<std::optional<core::CountRecord>> one;
    Done<Records> many;
  };
  // Reads every queued id at once and answers each read with its part.
  void Answer(std::span<const std::string> ids, std::vector<Read>& reads);
  void Run();

  SqliteCountValueStore& store_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Write> writes_;           // guarded by mu_
  std::vector<Read> reads_;            // guarded by mu_
  std::vector<std::string> read_ids_;  // guarded by mu_: the reads' ids, in order
  bool stopping_ = false;              // guarded by mu_
  std::thread writer_;
};

}  // namespace count::sqlite
