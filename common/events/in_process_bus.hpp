#pragma once
// The standalone bus: delivers each published batch to every subscriber, in order,
// before Publish returns — the same at-least-once, ordered-per-counter contract as
// Kafka, inside one process.
#include <functional>
#include <mutex>
#include <vector>

#include "core/event.hpp"

namespace count::events {

using EventHandler = std::function<void(std::span<const core::Event>)>;

class InProcessBus final : public core::EventPublisher {
 public:
  // Subscribe before the relay starts.
  void Subscribe(EventHandler handler);
  // A subscriber that throws fails the publish, so the relay retries the batch.
  void Publish(std::span<const core::Event> events) override;

 private:
  std::mutex mu_;
  std::vector<EventHandler> handlers_;
};

}  // namespace count::events
