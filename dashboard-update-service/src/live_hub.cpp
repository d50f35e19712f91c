#include "live_hub.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>

#include "runtime/log.hpp"

namespace count::live {
namespace {

std::string Frame(std::string_view id, std::string_view event, const boost::json::object& data) {
  std::string frame;
  if (!id.empty()) frame.append("id: ").append(id).append("\n");
  frame.append("event: ").append(event).append("\ndata: ");
  frame.append(boost::json::serialize(data)).append("\n\n");
  return frame;
}

std::string EventFrame(const core::Event& e) {
  boost::json::object data{{"countId", e.count_id},
                           {"value", e.value},
                           {"timestamp", core::FormatTimestamp(e.timestamp)}};
  if (e.delta) data["delta"] = *e.delta;
  return Frame(e.event_id, core::ToString(e.type), data);
}

// The last words to a client that should come back: how long to wait, and why.
std::string Goodbye(std::chrono::milliseconds retry, std::string_view reason) {
  return "retry: " + std::to_string(retry.count()) + "\n" +
         Frame("", "reconnect", {{"reason", reason}});
}

}  // namespace

const std::string& LiveHub::Recent::Frame() {
  if (frame.empty()) frame = EventFrame(event);
  return frame;
}

LiveHub::LiveHub(core::CountValueStore& values, HubOptions options)
    : values_(values), options_(options) {}

LiveHub::~LiveHub() {
  if (notifier_.joinable()) {  // before taking mu_: the notifier needs it to see the stop
    notifier_.request_stop();
    notifier_.join();
  }
  // A stream the server has not ended yet must not call back into a hub that is gone.
  std::lock_guard lock(mu_);
  for (auto& [id, s] : subscribers_) s.stream->OnEnd(nullptr);
}

void LiveHub::Send(Subscriber& s, std::string_view frame) {
  if (s.stream->Push(frame) || s.stream->Closed()) return;
  ++dropped_;  // its queue is full: it reads slower than counters change
  s.stream->Close(Goodbye(options_.retry, "too slow"));
}

void LiveHub::CountParts(std::vector<core::Event>& events) {
  std::vector<std::string> ids;
  std::unordered_map<std::string_view, std::size_t> index;
  for (const auto& e : events)
    if (e.sub_counter && index.try_emplace(e.count_id, ids.size()).second)
      ids.push_back(e.count_id);
  const auto stored = values_.GetMany(ids);  // StoreUnavailable: the batch comes again
  // The value read holds every change whose event is in the batch: it is the counter's after
  // its last event here, and each event before that one is worth the deltas after it less.
  std::vector<std::optional<std::int64_t>> after(ids.size());
  for (std::size_t i = 0; i < ids.size() && i < stored.size(); ++i)
    if (stored[i]) after[i] = stored[i]->value;
  for (auto e = events.rbegin(); e != events.rend(); ++e) {
    if (!e->sub_counter) continue;
    auto& value = after[index.at(e->count_id)];
    if (e->type == core::EventType::kDeleted) {  // it carries the last value, as for any counter
      e->sub_counter.reset();
      value = e->value;
      continue;
    }
    if (!value) continue;  // not in the store: PublishLocked counts from the last value seen
    e->value = *value;
    e->sub_counter.reset();
    std::int64_t before = 0;
    if (__builtin_sub_overflow(*value, e->delta.value_or(0), &before))
      value.reset();
    else
      value = before;
  }
}

void LiveHub::Publish(std::span<const core::Event> events) {
  // A sharded counter's part events carry the counter's value from here on (CountParts).
  std::vector<core::Event> counted;
  if (std::ranges::any_of(events, [](const core::Event& e) { return e.sub_counter.has_value(); })) {
    counted.assign(events.begin(), events.end());
    CountParts(counted);
    events = counted;
  }
  // The deliveries to log (runtime::WriteEvent: sampled traces, or every event at debug),
  // written once the lock is released.
  std::vector<std::pair<const core::Event*, std::size_t>> delivered;
  {
    std::lock_guard lock(mu_);
    PublishLocked(events, delivered);
  }
  for (const auto& [e, streams] : delivered)
    runtime::WriteEvent("live", "sse delivered", *e, {{"streams", streams}});
}

void LiveHub::PublishLocked(std::span<const core::Event> events,
                            std::vector<std::pair<const core::Event*, std::size_t>>& delivered) {
  for (const auto& e : events) {
    const std::uint64_t seq = next_seq_++;
    auto& recent = recent_.emplace_back(Recent{seq, e, {}});
    if (auto& part = recent.event; part.sub_counter) {  // not in the store (CountParts)
      const auto seen = latest_.find(part.count_id);
      const std::int64_t before = seen != latest_.end() ? seen->second.value : 0;
      if (__builtin_add_overflow(before, part.delta.value_or(0), &part.value)) part.value = before;
      part.sub_counter.reset();
    }
    if (e.type == core::EventType::kDeleted)
      latest_.erase(e.count_id);
    else
      latest_[e.count_id] = {recent.event.value, e.timestamp};

    recent_seq_[e.event_id] = seq;
    if (auto it = by_count_.find(e.count_id); it != by_count_.end()) {
      for (auto id : it->second) Send(subscribers_.at(id), recent.Frame());
      if (!it->second.empty() && runtime::Log::Enabled(runtime::EventLevel(e)))
        delivered.emplace_back(&e, it->second.size());
    }
    if (!summary_subscribers_.empty() && summary_changes_++ == 0) summary_changed_.notify_one();
    // Only now: with a window of 0 (SSE_REPLAY_EVENTS=0) this drops `recent` itself.
    if (recent_.size() > options_.replay_events) {
      recent_seq_.erase(recent_.front().event.event_id);
      recent_.pop_front();
    }
  }
}

std::shared_ptr<http::Stream> LiveHub::Subscribe(std::vector<std::string> count_ids,
                                                 std::optional<std::string_view> last_event_id,
                                                 bool summary) {
  {
    std::lock_guard lock(mu_);
    if (subscribers_.size() >= options_.max_subscribers) return nullptr;
  }
  const bool resume = last_event_id && [&] {
    std::lock_guard lock(mu_);
    return recent_seq_.contains(std::string(*last_event_id));
  }();
  // Read outside the lock; what the hub has seen since replaces it below.
  std::vector<std::optional<core::CountRecord>> stored;
  if (!resume && !count_ids.empty()) stored = values_.GetMany(count_ids);

  auto stream = std::make_shared<http::Stream>(
      http::Stream::Options{.max_queued_bytes = options_.client_queue_bytes,
                            .keepalive = options_.heartbeat,
                            .drain_chunk = Goodbye(options_.retry, "server shutting down")});
  stream->Push("retry: " + std::to_string(options_.retry.count()) + "\n\n");

  std::lock_guard lock(mu_);
  if (subscribers_.size() >= options_.max_subscribers) return nullptr;
  const std::unordered_set<std::string> wanted(count_ids.begin(), count_ids.end());
  const auto after = resume ? recent_seq_.find(std::string(*last_event_id)) : recent_seq_.end();
  if (after != recent_seq_.end()) {
    for (auto& r : recent_)
      if (r.seq > after->second && wanted.contains(r.event.count_id)) stream->Push(r.Frame());
  } else {
    boost::json::array counts, missing;
    for (std::size_t i = 0; i < count_ids.size(); ++i) {
      const auto& id = count_ids[i];
      const auto latest = latest_.find(id);
      if (latest != latest_.end())
        counts.push_back({{"countId", id},
                          {"value", latest->second.value},
                          {"updatedAt", core::FormatTimestamp(latest->second.updated_at)}});
      else if (i < stored.size() && stored[i])
        counts.push_back({{"countId", id},
                          {"value", stored[i]->value},
                          {"updatedAt", core::FormatTimestamp(stored[i]->updated_at)}});
      else
        missing.push_back(boost::json::string(id));
    }
    // Its id is the last event's, so a resume from here replays what came after; before any
    // event, an id no window holds, so a resume gets a fresh snapshot.
    stream->Push(Frame(recent_.empty() ? "start" : recent_.back().event.event_id, "initial",
                       {{"counts", std::move(counts)}, {"missing", std::move(missing)}}));
  }

  const std::uint64_t id = next_subscriber_++;
  for (const auto& count_id : wanted) by_count_[count_id].insert(id);
  subscribers_.emplace(id, Subscriber{stream, std::move(count_ids)});
  if (summary) {
    summary_subscribers_.insert(id);
    if (!notifier_.joinable())
      notifier_ = std::jthread([this](std::stop_token stop) { NotifySummaries(stop); });
  }
  stream->OnEnd([this, id] { Unsubscribe(id); });
  return stream;
}

void LiveHub::Unsubscribe(std::uint64_t id) {
  std::lock_guard lock(mu_);
  const auto it = subscribers_.find(id);
  if (it == subscribers_.end()) return;
  for (const auto& count_id : it->second.count_ids) {
    const auto set = by_count_.find(count_id);
    if (set == by_count_.end()) continue;
    set->second.erase(id);
    if (set->second.empty()) by_count_.erase(set);
  }
  summary_subscribers_.erase(id);
  if (summary_subscribers_.empty()) summary_changes_ = 0;  // nobody is left to tell
  subscribers_.erase(it);
}

void LiveHub::NotifySummaries(std::stop_token stop) {
  std::unique_lock lock(mu_);
  while (summary_changed_.wait(lock, stop, [this] { return summary_changes_ > 0; })) {
    // Changes that come while it waits out the interval join this notice.
    summary_changed_.wait_until(lock, stop, last_summary_ + options_.summary_interval,
                                [] { return false; });
    if (stop.stop_requested()) return;
    if (summary_changes_ == 0) continue;  // its subscribers left meanwhile
    const std::string frame = Frame("", "summary", {{"changes", summary_changes_}});
    summary_changes_ = 0;
    last_summary_ = std::chrono::steady_clock::now();
    for (auto id : summary_subscribers_) Send(subscribers_.at(id), frame);
  }
}

std::size_t LiveHub::Subscribers() const {
  std::lock_guard lock(mu_);
  return subscribers_.size();
}

std::uint64_t LiveHub::Dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace count::live
