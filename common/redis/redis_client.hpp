#pragma once
// A small thread-safe Redis client: a pool of pipelining connections, reconnect with
// backoff, and master discovery through Redis Sentinel.
//
// Why hand-written: hiredis (the C client we ship) has no Boost.Asio adapter, and its
// synchronous API already pipelines when you append several commands and then read
// their replies. One I/O thread per connection does exactly that, so callers on any
// thread get pipelining without an event loop of their own.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace count::redis {

struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECT when not 0
};

// redis://[[user]:password@]host[:port][/db]; throws std::invalid_argument naming what is
// wrong (never echoing the password).
RedisEndpoint ParseRedisUrl(std::string_view url);

// Where to find the master: sentinels to ask, the name they monitor it under, and the
// credentials and database to use on the master once found.
struct SentinelConfig {
  std::vector<std::pair<std::string, int>> sentinels;
  std::string master_name;
  std::string user;
  std::string password;
  int db = 0;
};

// "host:port,host:port" (port defaults to 26379); throws std::invalid_argument.
SentinelConfig ParseSentinelConfig(std::string_view host_ports, std::string master_name);

// Redis Cluster: nodes to ask for the slot table first (any of them will do), and the
// credentials every node takes. `replica_reads`: commands that only read go to a replica of
// their slot's shard (after READONLY), as REDIS_REPLICA_URL does without a cluster.
struct ClusterConfig {
  std::vector<std::pair<std::string, int>> seeds;
  std::string user;
  std::string password;
  bool replica_reads = false;
};

// "host:port,host:port" (REDIS_CLUSTER_NODES; port defaults to 6379); throws
// std::invalid_argument.
ClusterConfig ParseClusterNodes(std::string_view host_ports);

// An owned reply. `str` holds the bytes of a string, the text of a status or an error.
struct Reply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string str;
  std::vector<Reply> elements;

  bool IsNil() const { return type == Type::kNil; }
  bool IsError() const { return type == Type::kError; }
};

struct RedisClientOptions {
  std::size_t pool_size = 2;
  // A command that cannot be sent within this time fails with StoreUnavailable; it is
  // also the connect and socket read timeout.
  std::chrono::milliseconds timeout{2000};
};

class BlockingClusterPipe;

class RedisClient {
 public:
  explicit RedisClient(RedisEndpoint endpoint, RedisClientOptions options = {});
  // Asks the sentinels for the master and follows it: re-resolves after a failed
  // connection, and retries a command once after a READONLY or LOADING error.
  explicit RedisClient(SentinelConfig sentinel, RedisClientOptions options = {});
  // Redis Cluster, routed by key slot (redis_connection.hpp: a loop thread of its own runs
  // the same routing as RedisLoopClient, and the calls wait for it). A command without a key
  // (PING, SCAN) goes to one primary.
  explicit RedisClient(ClusterConfig cluster, RedisClientOptions options = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command and waits for its reply. An error reply is returned, not thrown;
  // throws core::StoreUnavailable when the command is not sent within the timeout or the
  // connection fails while it is in flight.
  Reply Command(std::vector<std::string> args);
  // Sends all commands back to back on one connection, then reads all replies (in order).
  std::vector<Reply> Pipeline(std::vector<std::vector<std::string>> commands);
  bool Ping();

  // The server the client talks to now (after sentinel resolution; host empty before).
  RedisEndpoint CurrentEndpoint() const;

  // The address to connect to now: the fixed endpoint, or the master the sentinels name
  // (which blocks up to the timeout per sentinel). Throws core::StoreUnavailable.
  RedisEndpoint Resolve();
  bool FollowsSentinel() const { return use_sentinel_; }
  // The cluster this client routes to; nullptr when it talks to one server.
  const ClusterConfig* cluster() const { return cluster_ ? &*cluster_ : nullptr; }
  const RedisClientOptions& options() const { return options_; }

 private:
  class Connection;
  friend class Connection;

  RedisClient(RedisEndpoint endpoint, SentinelConfig sentinel, bool use_sentinel,
              RedisClientOptions options, std::optional<ClusterConfig> cluster = std::nullopt);
  const RedisEndpoint endpoint_;
  const SentinelConfig sentinel_;
  const bool use_sentinel_;
  const std::optional<ClusterConfig> cluster_;
  const RedisClientOptions options_;
  mutable std::mutex current_mu_;
  RedisEndpoint current_;
  std::atomic<std::size_t> next_{0};
  std::vector<std::unique_ptr<Connection>> connections_;
  std::unique_ptr<BlockingClusterPipe> cluster_pipe_;  // when cluster_
};

}  // namespace count::redis
