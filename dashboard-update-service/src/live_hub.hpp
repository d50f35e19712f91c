#pragma once
// The live view of counter changes (UC-005). Every event reaches the subscribers of its
// counter, in order per counter, through a bounded queue per client: a client that does
// not keep up is dropped with a reconnect hint instead of holding anyone else up. A ring
// of recent events lets a client that reconnects with Last-Event-ID miss nothing inside it.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/event.hpp"
#include "core/ports.hpp"
#include "http/message.hpp"

namespace count::live {

struct HubOptions {
  std::size_t max_subscribers = 10'000;
  std::size_t replay_events = 10'000;  // the Last-Event-ID window
  std::size_t client_queue_bytes = 256 * 1024;
  std::chrono::milliseconds heartbeat{15'000};
  std::chrono::milliseconds retry{2'000};  // how long a browser waits before reconnecting
};

class LiveHub {
 public:
  LiveHub(core::CountValueStore& values, HubOptions options);
  ~LiveHub();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // From the bus, one batch at a time, in order per counter.
  void Publish(std::span<const core::Event> events);

  // A stream of the changes of `count_ids`: after the events that followed `last_event_id`
  // when it is still in the window, else after an `initial` snapshot. nullptr at the
  // subscriber limit. Throws StoreUnavailable when the snapshot cannot be read.
  std::shared_ptr<http::Stream> Subscribe(std::vector<std::string> count_ids,
                                          std::optional<std::string_view> last_event_id);

  std::size_t Subscribers() const;
  std::uint64_t Dropped() const;  // clients dropped for not keeping up

 private:
  struct Subscriber {
    std::shared_ptr<http::Stream> stream;
    std::vector<std::string> count_ids;
  };
  struct Recent {
    std::uint64_t seq;
    std::string event_id, count_id, frame;
  };
  struct Latest {
    std::int64_t value;
    core::Timestamp updated_at;
  };

  void Send(Subscriber& s, std::string_view frame);  // mu_ held
  void Unsubscribe(std::uint64_t id);

  core::CountValueStore& values_;
  const HubOptions options_;
  mutable std::mutex mu_;
  std::uint64_t next_subscriber_ = 0, next_seq_ = 0, dropped_ = 0;
  std::unordered_map<std::uint64_t, Subscriber> subscribers_;
  std::unordered_map<std::string, std::unordered_set<std::uint64_t>> by_count_;
  std::deque<Recent> recent_;
  std::unordered_map<std::string, std::uint64_t> recent_seq_;  // event id → seq, for resume
  // Each counter's value after the last event seen here. A snapshot shows it (rather than
  // the store's value) so that it agrees exactly with the events that follow it.
  std::unordered_map<std::string, Latest> latest_;
};

}  // namespace count::live
