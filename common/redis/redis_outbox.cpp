#include "redis/redis_outbox.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>
#include <thread>
#include <utility>

#include "redis/redis_count_value_store.hpp"

namespace count::redis {
namespace {

void ThrowIfError(const Reply& r) {
  if (r.IsError()) throw core::StoreUnavailable("redis: " + r.str);
}

template <class Int>
Int ParseInt(std::string_view text) {
  Int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    throw core::StoreUnavailable("redis: outbox field is not an integer: '" + std::string(text) +
                                 "'");
  return value;
}

// One event as scripts/prelude.lua's emit wrote it: its parts in a fixed order, separated by
// the unit separator (0x1F).
core::Event ParseEvent(std::string_view packed) {
  std::array<std::string_view, 9> part;
  std::size_t n = 0;
  for (std::size_t start = 0;; ++n) {
    const auto end = packed.find('\x1f', start);
    if (n == part.size()) throw core::StoreUnavailable("redis: outbox event has more than 9 parts");
    part[n] = packed.substr(start, end == std::string_view::npos ? end : end - start);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (n + 1 != part.size())
    throw core::StoreUnavailable("redis: outbox event has " + std::to_string(n + 1) +
                                 " parts, not 9");
  core::Event e;
  e.event_id = part[0];
  e.type = core::ParseEventType(part[1]).value_or(core::EventType::kUpdated);
  e.count_id = part[2];
  if (!part[3].empty()) e.delta = ParseInt<std::int64_t>(part[3]);
  e.value = ParseInt<std::int64_t>(part[4]);
  e.timestamp = core::Timestamp(std::chrono::milliseconds(ParseInt<std::int64_t>(part[5])));
  e.source = part[6];
  e.purge_history = part[7] == "1";
  if (!part[8].empty()) e.trace = core::ParseTraceparent(part[8]).value_or(core::TraceContext{});
  return e;
}

}  // namespace

RedisEventOutbox::RedisEventOutbox(RedisClient& client, std::string owner,
                                   std::chrono::milliseconds lease, std::string stream)
    : client_(client),
      owner_(std::move(owner) + ":" + core::NewEventId()),
      lease_(lease),
      lead_(LuaScript::Embedded("lead.lua")),
      trim_(LuaScript::Embedded("trim.lua")),
      stream_(std::move(stream)) {}

void RedisEventOutbox::Release() {
  // lead.lua renews a lease its owner holds: renewed for 0 ms (PEXPIRE 0), it is gone at once.
  // Only when this process holds it: lead.lua would take a free lease, and 0 ms is no lease.
  if (client_.Command({"GET", LeaseKey()}).str != owner_) return;
  lead_.Run(client_, {LeaseKey()}, ScriptArgs().Set("owner", owner_).Set("lease", "0").values());
}

std::vector<core::Event> RedisEventOutbox::Pending(std::size_t max) {
  first_id_.clear();
  last_id_.clear();
  entries_ = 0;
  Reply lead = lead_.Run(
      client_, {LeaseKey()},
      ScriptArgs().Set("owner", owner_).Set("lease", std::to_string(lease_.count())).values());
  if (lead.integer != 1) return {};  // another process relays
  // An entry holds the events of one script call (scripts/prelude.lua): up to `max` entries
  // are read and whole entries taken while the events stay within `max`.
  Reply r = client_.Command({"XRANGE", stream_, "-", "+", "COUNT", std::to_string(max)});
  ThrowIfError(r);
  std::vector<core::Event> events;
  for (const auto& entry : r.elements) {
    if (entry.elements.size() != 2) continue;
    const std::size_t before = events.size();
    const auto& fields = entry.elements[1].elements;
    for (std::size_t i = 1; i < fields.size(); i += 2) events.push_back(ParseEvent(fields[i].str));
    if (events.size() > max && before > 0) {  // this entry waits for the next batch
      events.resize(before);
      break;
    }
    last_id_ = entry.elements[0].str;
    if (first_id_.empty()) first_id_ = last_id_;
    last_event_ = events.size() > before ? events[before].event_id : "";
    ++entries_;
  }
  return events;
}

void RedisEventOutbox::Acknowledge(std::span<const core::Event> events) {
  if (last_id_.empty()) return;
  // Pending reads from the start of the stream and ids only grow, so everything up to the
  // last id read is what was published: one XTRIM drops it (freeing whole stream nodes),
  // where XDEL of each id would only mark entries deleted. The script does it and records
  // how far the bus has acknowledged the outbox, in one atomic step.
  const auto dash = last_id_.find('-');
  if (dash == std::string::npos)
    throw core::StoreUnavailable("redis: not a stream id: '" + last_id_ + "'");
  const std::string after = last_id_.substr(0, dash) + "-" +
                            std::to_string(ParseInt<std::uint64_t>(last_id_.substr(dash + 1)) + 1);
  trim_.Run(client_, {stream_, stream_ + ":size", stream_ + ":published", stream_ + ":epoch"},
            ScriptArgs()
                .Set("min_id", after)
                .Set("events", std::to_string(events.size()))
                .Set("entries", std::to_string(entries_))
                .Set("first", first_id_)
                .Set("last", last_id_)
                .Set("event", last_event_)
                .values());
  last_id_.clear();
}

std::size_t RedisEventOutbox::Backlog() {
  Reply r = client_.Command({"GET", stream_ + ":size"});
  ThrowIfError(r);
  return r.IsNil() ? 0 : ParseInt<std::size_t>(r.str);
}

void RedisEventOutbox::Wait(std::chrono::milliseconds max) {
  // Polling: a blocking XREAD would hold a shared, pipelined connection.
  std::this_thread::sleep_for(std::min(max, std::chrono::milliseconds(5)));
}

}  // namespace count::redis
