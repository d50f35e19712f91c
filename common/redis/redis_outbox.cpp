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
// the unit separator (0x1F). Entries written before events named a sharded counter's part
// have 9 parts, later ones 10; parts after those are ignored, so a relay reads the entries of
// a later version that adds some (a rolling upgrade runs both side by side).
core::Event ParseEvent(std::string_view packed) {
  std::array<std::string_view, 10> part;
  std::size_t n = 0;  // the parts read
  for (std::size_t start = 0; n < part.size();) {
    const auto end = packed.find('\x1f', start);
    part[n++] = packed.substr(start, end == std::string_view::npos ? end : end - start);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (n < 9)
    throw core::StoreUnavailable("redis: outbox event has " + std::to_string(n) +
                                 " parts, not at least 9");
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
  if (!part[9].empty()) e.sub_counter = ParseInt<int>(part[9]);
  return e;
}

// The id of a stream entry's first event: the first part of its first field's value.
std::string FirstEventId(const Reply& entry) {
  const auto& fields = entry.elements.at(1).elements;
  if (fields.size() < 2) return "";
  const std::string& packed = fields[1].str;
  return packed.substr(0, packed.find('\x1f'));
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

std::vector<std::string> RedisEventOutbox::LeaseArgs(std::chrono::milliseconds lease) const {
  return ScriptArgs().Set("owner", owner_).Set("lease", std::to_string(lease.count())).values();
}

void RedisEventOutbox::Release() {
  batches_.clear();
  leading_ = false;
  // lead.lua renews a lease its owner holds: renewed for 0 ms (PEXPIRE 0), it is gone at once.
  // Only when this process holds it: lead.lua would take a free lease, and 0 ms is no lease.
  if (client_.Command({"GET", LeaseKey()}).str != owner_) return;
  lead_.Run(client_, {LeaseKey()}, LeaseArgs(std::chrono::milliseconds(0)));
}

std::optional<Reply> RedisEventOutbox::ReadLeading(std::vector<std::string> range) {
  const std::vector<std::string> keys{LeaseKey()};
  const auto args = LeaseArgs(lease_);
  Reply lead, read;
  if (leading_) {
    // The leader, which makes nearly every call: the lease and the read in one round trip (a
    // replica that does not lead asks for the lease alone, and reads nothing it cannot use).
    auto replies = client_.Pipeline({lead_.Command(keys, args, false), std::move(range)});
    lead = std::move(replies.at(0));
    read = std::move(replies.at(1));
    if (LuaScript::NoScript(lead)) lead = lead_.Run(client_, keys, args);
    if (lead.IsError()) throw core::StoreUnavailable("redis: " + lead.str);
  } else {
    lead = lead_.Run(client_, keys, args);
    if (lead.integer == 1) read = client_.Command(std::move(range));
  }
  leading_ = lead.integer == 1;
  if (!leading_) return std::nullopt;
  ThrowIfError(read);
  return read;
}

std::vector<core::Event> RedisEventOutbox::Pending(std::size_t max) {
  // Reading ahead continues from the last entry handed out, and reads that entry again: the
  // reply must start with it (its id and its first event), or the stream is no longer the one
  // the batches in flight came from (Redis wiped, or trimmed by another leader while this
  // one's lease had run out), and reading on from its id could skip entries of the new one.
  const Batch* previous = batches_.empty() ? nullptr : &batches_.back();
  // XRANGE's COUNT counts entries, and an entry holds a whole script call's events (up to a
  // group commit's 1,000): asking for `max` entries would send up to 1,000 times the batch
  // over a backlog, every read. So as many entries as hold `max` events at the size of the
  // entries read last (at least one, which comes whole however large); the first read, with
  // no size known, a few.
  const std::size_t count = events_per_entry_ > 0
                                ? std::clamp<std::size_t>(max / events_per_entry_, 1, max)
                                : std::min(max, kFirstRead);
  auto r = ReadLeading({"XRANGE", stream_, previous ? previous->last : "-", "+", "COUNT",
                        std::to_string(previous ? count + 1 : count)});
  if (!r) {  // another process relays, from the oldest unacknowledged event
    batches_.clear();
    return {};
  }
  std::span<const Reply> entries = r->elements;
  if (previous) {
    const bool continues = !entries.empty() && entries[0].elements.size() == 2 &&
                           entries[0].elements[0].str == previous->last &&
                           FirstEventId(entries[0]) == previous->last_event;
    // Nothing more until the batches in flight are acknowledged (or fail): then from the start.
    if (!continues) return {};
    entries = entries.subspan(1);
  }
  // An entry holds the events of one script call (scripts/prelude.lua): up to `max` entries
  // are read and whole entries taken while the events stay within `max`.
  Batch batch;
  std::vector<core::Event> events;
  std::size_t parsed = 0, seen = 0;  // events and entries parsed: the size of the next read
  for (const auto& entry : entries) {
    if (entry.elements.size() != 2) continue;
    const std::size_t before = events.size();
    const auto& fields = entry.elements[1].elements;
    for (std::size_t i = 1; i < fields.size(); i += 2) events.push_back(ParseEvent(fields[i].str));
    parsed += events.size() - before;
    ++seen;
    if (events.size() > max && before > 0) {  // this entry waits for the next batch
      events.resize(before);
      break;
    }
    batch.last = entry.elements[0].str;
    if (batch.first.empty()) batch.first = batch.last;
    batch.last_event = FirstEventId(entry);
    ++batch.entries;
  }
  if (seen > 0) events_per_entry_ = std::max<std::size_t>(1, parsed / seen);
  if (events.empty()) return {};
  batch.events = events.size();
  batches_.push_back(std::move(batch));
  return events;
}

void RedisEventOutbox::Acknowledge(std::span<const core::Event>) {
  if (batches_.empty()) return;  // nothing handed out, or given up with the lease
  const Batch& batch = batches_.front();
  // Batches are handed out in stream order and acknowledged oldest first, and ids only grow,
  // so everything up to the oldest batch's last id is what was published: one XTRIM drops it
  // (freeing whole stream nodes), where XDEL of each id would only mark entries deleted. The
  // script does it and records how far the bus has acknowledged the outbox, in one atomic
  // step; it checks that the stream still holds the batch (Redis not wiped in between).
  const auto dash = batch.last.find('-');
  if (dash == std::string::npos)
    throw core::StoreUnavailable("redis: not a stream id: '" + batch.last + "'");
  const std::string after =
      batch.last.substr(0, dash) + "-" +
      std::to_string(ParseInt<std::uint64_t>(batch.last.substr(dash + 1)) + 1);
  trim_.Run(client_, {stream_, stream_ + ":size", stream_ + ":published", stream_ + ":epoch"},
            ScriptArgs()
                .Set("min_id", after)
                .Set("events", std::to_string(batch.events))
                .Set("entries", std::to_string(batch.entries))
                .Set("first", batch.first)
                .Set("last", batch.last)
                .Set("event", batch.last_event)
                .values());
  batches_.pop_front();
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
