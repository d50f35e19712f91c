#pragma once
// Moves events from the outbox (written atomically with each change) to the bus. The
// bus acknowledges before the outbox forgets, so an outage delays events and never loses
// them; a crash between the two republishes a batch, which consumers drop by eventId.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "core/event.hpp"

namespace count::events {

struct RelayOptions {
  // Events per publish at most: the relay waits for the bus to acknowledge each batch before
  // it deletes it from the outbox, so a batch's round trip is spread over this many events.
  std::size_t batch = 5000;
  std::chrono::milliseconds idle_wait{50};   // longest wait for new events
  std::chrono::milliseconds retry_min{100};  // backoff after a failed publish
  std::chrono::milliseconds retry_max{5000};
  std::function<void(const std::exception&)> on_error;  // e.g. log and count
};

class OutboxRelay {
 public:
  OutboxRelay(core::EventOutbox& outbox, core::EventPublisher& publisher, RelayOptions options);
  ~OutboxRelay();  // Stop()
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void Start();
  // Publishes what is pending (bounded by `drain`), then stops the thread.
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(5));
  std::uint64_t Published() const { return published_.load(); }
  bool Healthy() const { return healthy_.load(); }  // the last publish succeeded

 private:
  void Run();
  // One batch: true when events moved.
  bool Step();

  core::EventOutbox& outbox_;
  core::EventPublisher& publisher_;
  RelayOptions options_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> healthy_{true};
  std::atomic<std::uint64_t> published_{0};
  std::mutex mu_;
  std::condition_variable stop_cv_;
};

}  // namespace count::events
