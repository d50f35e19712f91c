#pragma once
// Moves events from the outbox (written atomically with each change) to the bus. The
// bus acknowledges before the outbox forgets, so an outage delays events and never loses
// them; a crash between the two republishes a batch, which consumers drop by eventId.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/event.hpp"

namespace count::runtime {
class Env;
}

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

// The relay's settings from the environment (OUTBOX_RELAY_BATCH, docs/CONFIGURATION.md):
// one reading for every binary that runs a relay.
RelayOptions RelayOptionsFromEnv(const runtime::Env& env,
                                 std::function<void(const std::exception&)> on_error);

class OutboxRelay {
 public:
  OutboxRelay(core::EventOutbox& outbox, core::EventPublisher& publisher, RelayOptions options);
  ~OutboxRelay();  // Stop()
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void Start();
  // Publishes what is pending (bounded by `drain`), then stops the threads.
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(5));
  std::uint64_t Published() const { return published_.load(); }
  bool Healthy() const { return healthy_.load(); }  // the last publish succeeded

 private:
  // Publishes one batch at a time on its own thread, so the relay reads the next batch
  // while the bus takes this one.
  class Publishing {
   public:
    explicit Publishing(core::EventPublisher& publisher);
    ~Publishing();
    void Begin(std::vector<core::Event> batch);
    // Waits for the batch begun last; rethrows its failure. Returns the batch.
    std::vector<core::Event> Finish();
    bool Busy() const { return busy_; }  // begun and not finished (relay thread only)

   private:
    core::EventPublisher& publisher_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<std::vector<core::Event>> queued_;  // handed to the thread
    std::optional<std::vector<core::Event>> done_;    // published (or failed: error_)
    std::exception_ptr error_;
    bool stopping_ = false;
    bool busy_ = false;
    std::thread thread_;
  };

  void Run();
  void RunPipelined();
  // One batch, read, published and acknowledged in turn: true when events moved.
  bool Step();
  void Acknowledged(std::span<const core::Event> batch);
  void Failed(const std::exception& e, std::chrono::milliseconds& backoff);

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
