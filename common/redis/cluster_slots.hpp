#pragma once
// Redis Cluster routing, the part that needs no I/O: which hash slot a key is in, which key of
// a command decides where it goes, the slot table CLUSTER SLOTS describes, and MOVED/ASK
// redirections. The loop client (redis_connection.cpp) sends by it.
//
// Why hand-written: hiredis has no cluster support, and Debian 12 packages no cluster client
// (no hiredis-cluster, no redis-plus-plus; Boost.Redis came with Boost 1.84, Debian ships
// 1.74/1.81). What a cluster client needs is small and specified by Redis's cluster spec:
// CRC16-XMODEM mod 16384 over the key or its {hash tag}, and the CLUSTER SLOTS reply.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_client.hpp"

namespace count::redis {

inline constexpr int kClusterSlots = 16384;

// The slot of `key`: of the part between the first '{' and the next '}' when that part is not
// empty (a hash tag), else of the whole key.
int KeySlot(std::string_view key);

// The key that decides where a command goes (its first key: EVAL/EVALSHA's first of KEYS,
// XREAD's first stream), or nullopt for a command that names no key (PING, INFO, SCAN,
// EVAL with no keys), which any primary may serve.
std::optional<std::string_view> CommandKey(const std::vector<std::string>& args);

// A -MOVED or -ASK error: the slot is served by (MOVED) or, for this one command while it
// migrates, at (ASK) host:port.
struct Redirect {
  bool ask = false;
  int slot = 0;
  std::string host;
  int port = 0;
};
std::optional<Redirect> ParseRedirect(const Reply& reply);

// Who serves each slot, from CLUSTER SLOTS.
class SlotMap {
 public:
  struct Shard {
    RedisEndpoint primary;
    std::vector<RedisEndpoint> replicas;
  };
  // nullopt when the reply is not a CLUSTER SLOTS table or leaves a slot unserved (a cluster
  // that is not ready: asked again later). Endpoints get `credentials`' user and password.
  static std::optional<SlotMap> FromClusterSlots(const Reply& reply,
                                                 const RedisEndpoint& credentials);

  const Shard& ShardOf(int slot) const { return shards_[slot_to_shard_[slot]]; }
  const std::vector<Shard>& shards() const { return shards_; }
  // After MOVED: `slot` is served by host:port (a known primary, or a new shard of its own)
  // until the table is read again.
  void Move(int slot, const std::string& host, int port);

 private:
  std::vector<Shard> shards_;
  std::array<std::uint16_t, kClusterSlots> slot_to_shard_{};
};

}  // namespace count::redis
