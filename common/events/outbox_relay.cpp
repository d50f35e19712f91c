#include "events/outbox_relay.hpp"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "runtime/config.hpp"

namespace count::events {

RelayOptions RelayOptionsFromEnv(const runtime::Env& env,
                                 std::function<void(const std::exception&)> on_error) {
  RelayOptions options;
  options.batch = static_cast<std::size_t>(
      env.Int("OUTBOX_RELAY_BATCH", static_cast<std::int64_t>(options.batch), 1, 100'000));
  options.on_error = std::move(on_error);
  return options;
}

OutboxRelay::Publishing::Publishing(core::EventPublisher& publisher) : publisher_(publisher) {
  thread_ = std::thread([this] {
    // bench/pipeline.py counts the threads named outbox-* as the relay's CPU.
    pthread_setname_np(pthread_self(), "outbox-publish");
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || queued_; });
      if (!queued_) return;  // stopping with nothing begun
      auto batch = std::move(*queued_);
      queued_.reset();
      lock.unlock();
      std::exception_ptr error;
      try {
        publisher_.Publish(batch);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      done_ = std::move(batch);
      error_ = error;
      cv_.notify_all();
    }
  });
}

OutboxRelay::Publishing::~Publishing() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void OutboxRelay::Publishing::Begin(std::vector<core::Event> batch) {
  {
    std::lock_guard lock(mu_);
    queued_ = std::move(batch);
  }
  busy_ = true;
  cv_.notify_all();
}

std::vector<core::Event> OutboxRelay::Publishing::Finish() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return done_.has_value(); });
  busy_ = false;
  auto batch = std::move(*done_);
  done_.reset();
  if (auto error = std::exchange(error_, nullptr)) std::rethrow_exception(error);
  return batch;
}

OutboxRelay::OutboxRelay(core::EventOutbox& outbox, core::EventPublisher& publisher,
                         RelayOptions options)
    : outbox_(outbox), publisher_(publisher), options_(std::move(options)) {}

OutboxRelay::~OutboxRelay() { Stop(std::chrono::milliseconds(0)); }

void OutboxRelay::Start() {
  thread_ = std::thread([this] { Run(); });
}

void OutboxRelay::Acknowledged(std::span<const core::Event> batch) {
  outbox_.Acknowledge(batch);
  published_.fetch_add(batch.size());
}

bool OutboxRelay::Step() {
  const auto events = outbox_.Pending(options_.batch);
  if (events.empty()) return false;
  try {
    publisher_.Publish(events);
  } catch (...) {
    outbox_.Rewind();  // an outbox that reads ahead hands the batch out again
    throw;
  }
  Acknowledged(events);
  return true;
}

void OutboxRelay::Failed(const std::exception& e, std::chrono::milliseconds& backoff) {
  healthy_.store(false);
  if (options_.on_error) options_.on_error(e);
  std::unique_lock lock(mu_);
  stop_cv_.wait_for(lock, backoff, [&] { return stopping_.load(); });
  backoff = std::min(backoff * 2, options_.retry_max);
}

void OutboxRelay::Run() {
  // Named so its CPU time can be told from the HTTP threads' (bench/pipeline.py measures the
  // relay's cost per event from /proc/<pid>/task/*/comm).
  pthread_setname_np(pthread_self(), "outbox-relay");
  if (outbox_.ReadsAhead()) return RunPipelined();
  auto backoff = options_.retry_min;
  while (!stopping_.load()) {
    try {
      if (!Step()) outbox_.Wait(options_.idle_wait);
      healthy_.store(true);
      backoff = options_.retry_min;
    } catch (const std::exception& e) {
      Failed(e, backoff);
    }
  }
}

// Batch N+1 is read while the bus takes batch N, and published once N is acknowledged by the
// bus, so each counter's events reach the bus in order; N leaves the outbox only after that.
// After a failure everything unacknowledged is read again, from the oldest.
void OutboxRelay::RunPipelined() {
  Publishing publishing(publisher_);
  auto backoff = options_.retry_min;
  while (!stopping_.load()) {
    try {
      auto next = outbox_.Pending(options_.batch);
      if (publishing.Busy()) {
        const auto taken = publishing.Finish();
        if (!next.empty()) publishing.Begin(std::move(next));
        Acknowledged(taken);
      } else if (!next.empty()) {
        publishing.Begin(std::move(next));
      } else {
        outbox_.Wait(options_.idle_wait);
      }
      healthy_.store(true);
      backoff = options_.retry_min;
    } catch (const std::exception& e) {
      try {
        if (publishing.Busy()) publishing.Finish();  // a batch begun before the failure
      } catch (const std::exception&) {
      }
      outbox_.Rewind();
      Failed(e, backoff);
    }
  }
  // Stopping: the batch in flight is acknowledged if the bus took it, else read again.
  try {
    if (publishing.Busy()) Acknowledged(publishing.Finish());
  } catch (const std::exception& e) {
    outbox_.Rewind();
    if (options_.on_error) options_.on_error(e);
  }
}

void OutboxRelay::Stop(std::chrono::milliseconds drain) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_.store(true);
  }
  stop_cv_.notify_all();
  thread_.join();
  // Hand over what the last requests recorded, while the bus still answers.
  const auto deadline = std::chrono::steady_clock::now() + drain;
  try {
    while (std::chrono::steady_clock::now() < deadline && Step()) {
    }
  } catch (const std::exception& e) {
    if (options_.on_error) options_.on_error(e);  // stays in the outbox for the next start
  }
}

}  // namespace count::events
