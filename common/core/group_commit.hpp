#pragma once
// Group commit: callers on many threads submit requests; while one batch is being written,
// later requests queue, and the first of them to find no write in flight writes everything
// queued as one batch (its own request included). Under load one store round trip (one
// script call, one transaction) serves many requests; alone, a request goes out at once.
//
// Why hand-written: the standard library has no combiner, and the stores' own clients batch
// only what one caller hands them.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <span>
#include <vector>

namespace count::core {

template <class Request>
class GroupCommit {
 public:
  // `max_weight` bounds a batch (each request weighs at least its own weight; a request
  // heavier than the bound goes alone).
  explicit GroupCommit(std::size_t max_weight) : max_weight_(max_weight) {}

  // Returns once `request` was written by `write(std::span<Request* const>)`, on this thread
  // or another. `write` must not throw: it records each request's outcome in the request.
  template <class Write>
  void Submit(Request& request, std::size_t weight, Write&& write) {
    Entry me{&request, weight};
    std::unique_lock lock(mu_);
    queued_.push_back(&me);
    cv_.wait(lock, [&] { return me.done || !writing_; });
    while (!me.done) {
      writing_ = true;
      std::vector<Entry*> entries;
      std::vector<Request*> batch;
      std::size_t total = 0;
      while (!queued_.empty() &&
             (batch.empty() || total + queued_.front()->weight <= max_weight_)) {
        total += queued_.front()->weight;
        entries.push_back(queued_.front());
        batch.push_back(queued_.front()->request);
        queued_.pop_front();
      }
      lock.unlock();
      write(std::span<Request* const>(batch));
      lock.lock();
      for (auto* e : entries) e->done = true;
      writing_ = false;
      cv_.notify_all();
    }
  }

 private:
  struct Entry {
    Request* request;
    std::size_t weight;
    bool done = false;
  };

  const std::size_t max_weight_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry*> queued_;  // waiting for the next write
  bool writing_ = false;       // a write is in flight
};

}  // namespace count::core
