#pragma once
// Group commit: callers on many threads submit requests; while one batch is being written,
// later requests queue, and the first of them to find no write in flight writes everything
// queued as one batch (its own request included). Under load one store round trip (one
// script call, one transaction) serves many requests; alone, a request goes out at once.
//
// GroupCommit does this for callers on many threads (a blocking store); LoopGroupCommit for
// callers on one event loop (a store connection owned by that loop), without a lock or a
// waiting thread. Both take a batch by the same rule (BatchSize).
//
// Why hand-written: the standard library has no combiner, and the stores' own clients batch
// only what one caller hands them.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

namespace count::core {

// How many of the queued requests (oldest first) the next batch takes: as many as fit
// `max_weight`, and at least one (a request heavier than the bound goes alone).
template <class Queue, class WeightOf>
std::size_t BatchSize(const Queue& queued, std::size_t max_weight, WeightOf weight_of) {
  std::size_t n = 0, total = 0;
  for (const auto& entry : queued) {
    const std::size_t w = weight_of(entry);
    if (n > 0 && total + w > max_weight) break;
    total += w;
    ++n;
  }
  return n;
}

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
      for (std::size_t n = BatchSize(queued_, max_weight_, [](Entry* e) { return e->weight; });
           n > 0; --n) {
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

// Group commit on one event loop: a request submitted while this loop's store call is in
// flight waits for the next call, which takes everything queued by then. With `defer` (the
// loop's post), a request that finds no call in flight does not go out at once either, but
// once the handlers the loop has ready now have run: the requests read in one turn of the
// loop (one epoll wake-up) share a call instead of the first going alone.
template <class Request>
class LoopGroupCommit {
 public:
  // Starts one store call for `batch`; once it has recorded (and answered) each request's
  // outcome it calls `finished`, on the loop, and the next batch goes out.
  using Write = std::function<void(std::vector<Request*> batch, std::function<void()> finished)>;
  using Defer = std::function<void(std::function<void()>)>;

  LoopGroupCommit(std::size_t max_weight, Write write, Defer defer = nullptr)
      : max_weight_(max_weight), write_(std::move(write)), defer_(std::move(defer)) {}

  // `request` lives until the write that takes it has finished.
  void Submit(Request& request, std::size_t weight) {
    queued_.push_back({&request, weight});
    if (writing_ || deferred_) return;
    if (!defer_) return Next();
    deferred_ = true;
    defer_([this] {
      deferred_ = false;
      if (!writing_) Next();
    });
  }

 private:
  struct Entry {
    Request* request;
    std::size_t weight;
  };

  void Next() {
    writing_ = !queued_.empty();
    if (!writing_) return;
    std::vector<Request*> batch;
    for (std::size_t n = BatchSize(queued_, max_weight_, [](const Entry& e) { return e.weight; });
         n > 0; --n) {
      batch.push_back(queued_.front().request);
      queued_.pop_front();
    }
    write_(std::move(batch), [this] { Next(); });
  }

  const std::size_t max_weight_;
  Write write_;
  Defer defer_;
  std::deque<Entry> queued_;
  bool writing_ = false;
  bool deferred_ = false;  // a Next is posted
};

}  // namespace count::core
