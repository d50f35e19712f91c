#include "core/event.hpp"

#include <fmt/compile.h>

#include <algorithm>
#include <atomic>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "core/hex.hpp"
#include "core/random.hpp"

namespace count::core {

std::string_view ToString(EventType type) {
  switch (type) {
    case EventType::kCreated:
      return "count_created";
    case EventType::kUpdated:
      return "count_updated";
    case EventType::kDeleted:
      return "count_deleted";
  }
  return "count_updated";
}

std::optional<EventType> ParseEventType(std::string_view text) {
  if (text == "count_created") return EventType::kCreated;
  if (text == "count_updated") return EventType::kUpdated;
  if (text == "count_deleted") return EventType::kDeleted;
  return std::nullopt;
}

std::string NewEventId() {
  // The layout of a UUIDv7 (RFC 9562): 48 bits of Unix time in ms, then 74 random bits.
  // Ids that grow with time land at the right edge of the history's event-id index
  // instead of on a random page of it, so remembering an event costs one hot page.
  unsigned char bytes[16];
  for (int half = 0; half < 2; ++half) {
    const std::uint64_t bits = ThreadRandom()();
    for (int i = 0; i < 8; ++i) bytes[8 * half + i] = static_cast<unsigned char>(bits >> (8 * i));
  }
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  bytes[6] = static_cast<unsigned char>(0x70 | (bytes[6] & 0x0F));  // version 7
  bytes[8] = static_cast<unsigned char>(0x80 | (bytes[8] & 0x3F));  // variant 10
  return ToHex(bytes);
}

namespace {

// Needs no escaping in a JSON string: printable ASCII but the quote and the backslash.
bool PlainJson(std::string_view s) {
  return std::ranges::all_of(
      s, [](unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
}

}  // namespace

std::string ToJson(const Event& e) {
  // The relay writes one per event, so the usual case is written directly: a json::object
  // allocates per member. Its ids are plain (event ids are hex, count ids the API's
  // characters, sources service names); anything else goes through Boost.JSON's escaping.
  if (!PlainJson(e.event_id) || !PlainJson(e.count_id) || !PlainJson(e.source)) {
    boost::json::object o{{"eventId", e.event_id},
                          {"type", ToString(e.type)},
                          {"countId", e.count_id},
                          {"value", e.value},
                          {"timestamp", FormatTimestamp(e.timestamp)},
                          {"source", e.source}};
    if (e.delta) o["delta"] = *e.delta;
    if (e.purge_history) o["purgeHistory"] = true;
    if (e.sub_counter) o["subCounter"] = *e.sub_counter;
    return boost::json::serialize(o);
  }
  std::string out;
  out.reserve(160 + e.count_id.size());
  auto it = std::back_inserter(out);
  fmt::format_to(
      it,
      FMT_COMPILE(
          R"({{"eventId":"{}","type":"{}","countId":"{}","value":{},"timestamp":"{}","source":"{}")"),
      e.event_id, ToString(e.type), e.count_id, e.value, FormatTimestamp(e.timestamp), e.source);
  if (e.delta) fmt::format_to(it, FMT_COMPILE(R"(,"delta":{})"), *e.delta);
  if (e.purge_history) out += R"(,"purgeHistory":true)";
  if (e.sub_counter) fmt::format_to(it, FMT_COMPILE(R"(,"subCounter":{})"), *e.sub_counter);
  out += '}';
  return out;
}

std::optional<Event> EventFromJson(std::string_view json) {
  // Consumers parse every event: the parsed document lives in a buffer on the stack (a
  // larger one spills to the heap), not in an allocation per member.
  unsigned char buffer[2048];
  boost::json::monotonic_resource memory(buffer, sizeof buffer);
  boost::system::error_code ec;
  const auto v = boost::json::parse(json, ec, &memory);
  const auto* o = ec ? nullptr : v.if_object();
  if (!o) return std::nullopt;
  auto text = [&](const char* k) -> const boost::json::string* {
    const auto* f = o->if_contains(k);
    return f && f->is_string() ? &f->get_string() : nullptr;
  };
  auto integer = [&](const char* k) -> std::optional<std::int64_t> {
    const auto* f = o->if_contains(k);
    if (f && f->is_int64()) return f->get_int64();
    if (f && f->is_uint64() && f->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(f->get_uint64());
    return std::nullopt;
  };
  const auto *id = text("eventId"), *type = text("type"), *count = text("countId"),
             *ts = text("timestamp"), *source = text("source");
  const auto value = integer("value");
  if (!id || !type || !count || !ts || !value) return std::nullopt;
  const auto parsed_type = ParseEventType(*type);
  const auto time = ParseTimestamp(*ts);
  if (!parsed_type || !time || !IsValidCountId(*count) || id->empty()) return std::nullopt;
  Event e{std::string(*id),
          *parsed_type,
          std::string(*count),
          integer("delta"),
          *value,
          *time,
          source ? std::string(*source) : std::string()};
  if (o->contains("delta") && !e.delta) return std::nullopt;
  if (const auto* purge = o->if_contains("purgeHistory")) {
    if (!purge->is_bool() || e.type != EventType::kDeleted) return std::nullopt;
    e.purge_history = purge->get_bool();
  }
  if (o->contains("subCounter")) {
    const auto sub = integer("subCounter");
    if (!sub || *sub < Event::kOwnKey || *sub > 1'000'000) return std::nullopt;
    e.sub_counter = static_cast<int>(*sub);
  }
  return e;
}

void AcksOfEachPart::Await(std::string position, std::function<void(bool durable)> done) {
  std::vector<std::string> parts;
  for (std::size_t at = 0; at < position.size();) {
    const std::size_t end = std::min(position.find(' ', at), position.size());
    if (end > at) parts.push_back(position.substr(at, end - at));
    at = end + 1;
  }
  if (parts.size() <= 1) return acks_.Await(std::move(position), std::move(done));
  // The parts' answers may come on different threads.
  struct Waiting {
    std::atomic<std::size_t> left;
    std::atomic<bool> durable{true};
    std::function<void(bool)> done;
  };
  auto waiting = std::make_shared<Waiting>();
  waiting->left = parts.size();
  waiting->done = std::move(done);
  for (auto& part : parts)
    acks_.Await(std::move(part), [waiting](bool durable) {
      if (!durable) waiting->durable = false;
      if (waiting->left.fetch_sub(1) == 1) waiting->done(waiting->durable);
    });
}

}  // namespace count::core
