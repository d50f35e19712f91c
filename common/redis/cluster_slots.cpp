#include "redis/cluster_slots.hpp"

#include <charconv>

namespace count::redis {
namespace {

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as Redis Cluster computes key slots.
constexpr std::array<std::uint16_t, 256> kCrcTable = [] {
  std::array<std::uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    std::uint16_t crc = static_cast<std::uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit)
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    table[i] = crc;
  }
  return table;
}();

std::uint16_t Crc16(std::string_view bytes) {
  std::uint16_t crc = 0;
  for (unsigned char c : bytes)
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrcTable[((crc >> 8) ^ c) & 0xff]);
  return crc;
}

bool Is(std::string_view command, std::string_view name) {
  if (command.size() != name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if ((command[i] & ~0x20) != name[i]) return false;  // ASCII upper case
  return true;
}

std::optional<int> ToInt(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

int KeySlot(std::string_view key) {
  const auto open = key.find('{');
  if (open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return Crc16(key) % kClusterSlots;
}

std::optional<std::string_view> CommandKey(const std::vector<std::string>& args) {
  if (args.size() < 2) return std::nullopt;
  const std::string_view name = args[0];
  if (Is(name, "EVAL") || Is(name, "EVALSHA") || Is(name, "EVAL_RO") || Is(name, "EVALSHA_RO") ||
      Is(name, "FCALL") || Is(name, "FCALL_RO")) {
    const auto keys = args.size() > 3 ? ToInt(args[2]) : std::nullopt;
    if (!keys || *keys < 1) return std::nullopt;
    return args[3];
  }
  if (Is(name, "XREAD") || Is(name, "XREADGROUP")) {
    for (std::size_t i = 1; i + 1 < args.size(); ++i)
      if (Is(args[i], "STREAMS")) return args[i + 1];
    return std::nullopt;
  }
  static constexpr std::string_view kKeyless[] = {
      "PING", "INFO",  "SCAN",     "ROLE",      "CLUSTER",  "ASKING", "READONLY",
      "AUTH", "HELLO", "SELECT",   "SCRIPT",    "FUNCTION", "CONFIG", "DBSIZE",
      "TIME", "ECHO",  "CLIENT",   "FLUSHALL",  "FLUSHDB",  "MULTI",  "EXEC",
      "ACL",  "WAIT",  "LASTSAVE", "READWRITE", "COMMAND"};
  for (auto keyless : kKeyless)
    if (Is(name, keyless)) return std::nullopt;
  return args[1];
}

std::optional<Redirect> ParseRedirect(const Reply& reply) {
  if (!reply.IsError()) return std::nullopt;
  std::string_view text = reply.str;
  Redirect r;
  if (text.starts_with("MOVED "))
    text.remove_prefix(6);
  else if (text.starts_with("ASK "))
    text.remove_prefix(4), r.ask = true;
  else
    return std::nullopt;
  const auto space = text.find(' ');
  const auto colon = text.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space)
    return std::nullopt;
  const auto slot = ToInt(text.substr(0, space));
  const auto port = ToInt(text.substr(colon + 1));
  if (!slot || *slot < 0 || *slot >= kClusterSlots || !port || *port < 1 || *port > 65535)
    return std::nullopt;
  r.slot = *slot;
  r.host = std::string(text.substr(space + 1, colon - space - 1));
  r.port = *port;
  if (r.host.empty()) return std::nullopt;
  return r;
}

std::optional<SlotMap> SlotMap::FromClusterSlots(const Reply& reply,
                                                 const RedisEndpoint& credentials) {
  if (reply.type != Reply::Type::kArray) return std::nullopt;
  auto node = [&](const Reply& n) -> std::optional<RedisEndpoint> {
    // [host, port, id, ...]; an empty host means "the address you asked" (never on loopback
    // test clusters, and announced hostnames are set in deployments).
    if (n.type != Reply::Type::kArray || n.elements.size() < 2 ||
        n.elements[1].type != Reply::Type::kInteger || n.elements[0].str.empty())
      return std::nullopt;
    RedisEndpoint ep = credentials;
    ep.host = n.elements[0].str;
    ep.port = static_cast<int>(n.elements[1].integer);
    ep.db = 0;
    return ep;
  };
  SlotMap map;
  std::array<bool, kClusterSlots> served{};
  for (const auto& range : reply.elements) {
    if (range.type != Reply::Type::kArray || range.elements.size() < 3) return std::nullopt;
    const auto first = range.elements[0].integer, last = range.elements[1].integer;
    if (first < 0 || last >= kClusterSlots || first > last) return std::nullopt;
    auto primary = node(range.elements[2]);
    if (!primary) return std::nullopt;
    Shard shard{*primary, {}};
    for (std::size_t i = 3; i < range.elements.size(); ++i)
      if (auto replica = node(range.elements[i])) shard.replicas.push_back(*replica);
    // One shard per primary, however many ranges it serves.
    std::size_t index = 0;
    while (index < map.shards_.size() && (map.shards_[index].primary.host != primary->host ||
                                          map.shards_[index].primary.port != primary->port))
      ++index;
    if (index == map.shards_.size()) map.shards_.push_back(std::move(shard));
    for (auto s = first; s <= last; ++s) {
      map.slot_to_shard_[s] = static_cast<std::uint16_t>(index);
      served[s] = true;
    }
  }
  for (bool s : served)
    if (!s) return std::nullopt;
  return map;
}

void SlotMap::Move(int slot, const std::string& host, int port) {
  std::size_t index = 0;
  while (index < shards_.size() &&
         (shards_[index].primary.host != host || shards_[index].primary.port != port))
    ++index;
  if (index == shards_.size()) {
    RedisEndpoint ep = shards_.front().primary;
    ep.host = host;
    ep.port = port;
    shards_.push_back({ep, {}});
  }
  slot_to_shard_[slot] = static_cast<std::uint16_t>(index);
}

}  // namespace count::redis
