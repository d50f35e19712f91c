#include "events/in_process_bus.hpp"

namespace count::events {

void InProcessBus::Subscribe(EventHandler handler) {
  std::lock_guard lock(mu_);
  handlers_.push_back(std::move(handler));
}

void InProcessBus::Publish(std::span<const core::Event> events) {
  std::lock_guard lock(mu_);
  for (const auto& handler : handlers_) handler(events);
}

}  // namespace count::events
