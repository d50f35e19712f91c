#pragma once
// The live view of counter changes (UC-005). Every event reaches the subscribers of its
// counter, in order per counter, through a bounded queue per client: a client that does
// not keep up is dropped with a reconnect hint instead of holding anyone else up. A ring
// of recent events lets a client that reconnects with Last-Event-ID miss nothing inside it.
// A client may also ask to hear that *some* counter changed (views that summarise every
// counter): one coalesced `summary` notice per interval at most, and only after a change.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
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
  std::chrono::milliseconds summary_interval{1'000};  // at most one `summary` notice per this
};

class LiveHub {
 public:
  LiveHub(core::CountValueStore& values, HubOptions options);
  ~LiveHub();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // From the bus, one batch at a time, in order per counter. Each event pushed to at least
  // one stream is logged with its trace ("sse delivered", runtime::WriteEvent). An event of a
  // sharded counter's part (core::Event::sub_counter) is sent with the counter's value:
  // the store's, read once per batch for such counters (throws StoreUnavailable when it cannot
  // be read, before anything was sent: the batch comes again), less the deltas of its events
  // later in the batch; for a counter no longer in the store, the value seen last plus its
  // delta (docs/ARCHITECTURE.md, "Hot counters").
  void Publish(std::span<const core::Event> events);

  // A stream of the changes of `count_ids`: after the events that followed `last_event_id`
  // when it is still in the window, else after an `initial` snapshot. nullptr at the
  // subscriber limit. Throws StoreUnavailable when the snapshot cannot be read. With
  // `summary`, the stream also gets the `summary` notices: {"changes":N} after N events of any
  // counter, sent to every such stream at most once per `summary_interval`.
  std::shared_ptr<http::Stream> Subscribe(std::vector<std::string> count_ids,
                                          std::optional<std::string_view> last_event_id,
                                          bool summary = false);

  std::size_t Subscribers() const;
  std::uint64_t Dropped() const;  // clients dropped for not keeping up

 private:
  struct Subscriber {
    std::shared_ptr<http::Stream> stream;
    std::vector<std::string> count_ids;
  };
  // An event kept for replay; its SSE frame is formatted when first sent (most events are
  // never sent to anyone: no client watches their counter).
  struct Recent {
    std::uint64_t seq;
    core::Event event;
    std::string frame;  // empty until Frame()
    const std::string& Frame();
  };
  struct Latest {
    std::int64_t value;
    core::Timestamp updated_at;
  };

  // Gives the events of sharded counters' parts their counters' values, read from the store.
  void CountParts(std::vector<core::Event>& events);
  void Send(Subscriber& s, std::string_view frame);  // mu_ held
  // mu_ held; adds to `delivered` each event pushed to a stream whose line is to be logged.
  void PublishLocked(std::span<const core::Event> events,
                     std::vector<std::pair<const core::Event*, std::size_t>>& delivered);
  void Unsubscribe(std::uint64_t id);
  // The notifier thread: waits for a change, then for the interval since the last notice.
  void NotifySummaries(std::stop_token stop);

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
  // Events since the last `summary` notice (counted only while someone wants the notices):
  // an event costs O(1) here, the notice O(summary subscribers) once per interval.
  std::unordered_set<std::uint64_t> summary_subscribers_;
  std::uint64_t summary_changes_ = 0;
  std::chrono::steady_clock::time_point last_summary_{};
  std::condition_variable_any summary_changed_;
  std::jthread notifier_;  // started with the first summary subscriber
};

}  // namespace count::live
