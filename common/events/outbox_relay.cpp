#include "events/outbox_relay.hpp"

#include <pthread.h>

#include <algorithm>

namespace count::events {

OutboxRelay::OutboxRelay(core::EventOutbox& outbox, core::EventPublisher& publisher,
                         RelayOptions options)
    : outbox_(outbox), publisher_(publisher), options_(std::move(options)) {}

OutboxRelay::~OutboxRelay() { Stop(std::chrono::milliseconds(0)); }

void OutboxRelay::Start() {
  thread_ = std::thread([this] { Run(); });
}

bool OutboxRelay::Step() {
  const auto events = outbox_.Pending(options_.batch);
  if (events.empty()) return false;
  publisher_.Publish(events);
  outbox_.Acknowledge(events);
  published_.fetch_add(events.size());
  return true;
}

void OutboxRelay::Run() {
  // Named so its CPU time can be told from the HTTP threads' (bench/pipeline.py measures the
  // relay's cost per event from /proc/<pid>/task/*/comm).
  pthread_setname_np(pthread_self(), "outbox-relay");
  auto backoff = options_.retry_min;
  while (!stopping_.load()) {
    try {
      if (!Step()) outbox_.Wait(options_.idle_wait);
      healthy_.store(true);
      backoff = options_.retry_min;
    } catch (const std::exception& e) {
      healthy_.store(false);
      if (options_.on_error) options_.on_error(e);
      std::unique_lock lock(mu_);
      stop_cv_.wait_for(lock, backoff, [&] { return stopping_.load(); });
      backoff = std::min(backoff * 2, options_.retry_max);
    }
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
