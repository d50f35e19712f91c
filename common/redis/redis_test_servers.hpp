#pragma once
// Real redis-server and redis-sentinel processes for the integration tests: free loopback
// ports, a temp dir, stopped by PID. Test-only.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "redis/redis_client.hpp"
#include "testing/process.hpp"

namespace count::redis::testing {

// Runs one command on a fresh connection (setup and checks, not the code under test).
Reply Run(const RedisEndpoint& endpoint, std::vector<std::string> args);

// Polls `condition` every 20 ms; false when `timeout` passed first.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

// One redis-server (or, with `sentinel_conf`, a sentinel) in its own folder under `dir`.
class RedisServer {
 public:
  RedisServer(const std::filesystem::path& dir, const std::string& name,
              std::vector<std::string> extra_args);
  // A sentinel monitoring 127.0.0.1:master_port as `master_name`, quorum 1.
  static std::unique_ptr<RedisServer> Sentinel(const std::filesystem::path& dir,
                                               const std::string& master_name, int master_port);

  int port() const { return port_; }
  RedisEndpoint endpoint() const { return RedisEndpoint{"127.0.0.1", port_, "", "", 0}; }
  count::testing::Process& process() { return *process_; }

 private:
  RedisServer() = default;
  int port_ = 0;
  std::unique_ptr<count::testing::Process> process_;
};

// A primary (AOF, fsync every second), its replica, and one sentinel (quorum 1, down
// after 500 ms) that already knows the replica, so a failover can start at once.
class RedisTopology {
 public:
  static constexpr const char* kMasterName = "count";
  RedisTopology();

  RedisServer& primary() { return *primary_; }
  RedisServer& replica() { return *replica_; }
  RedisServer& sentinel() { return *sentinel_; }
  SentinelConfig sentinel_config() const;
  // A graceful failover: the sentinel promotes the replica, and the old primary becomes its
  // replica without closing its clients' connections (what the sentinel does a few seconds
  // later, minus that), so their next write gets READONLY. False when it did not happen.
  bool FailOverGracefully();

 private:
  count::testing::TempDir dir_;
  std::unique_ptr<RedisServer> primary_;
  std::unique_ptr<RedisServer> replica_;
  std::unique_ptr<RedisServer> sentinel_;
};

// A Redis Cluster of three primaries and three replicas (redis-server with cluster-enabled,
// formed by `redis-cli --cluster create --cluster-replicas 1`), each node with its cluster bus
// on a second free port; node timeout 1 s, so a replica takes over a killed primary within a
// few seconds. Which node replicates which is redis-cli's choice: ask Primaries() and
// ReplicaOf().
class RedisCluster {
 public:
  static constexpr int kNodes = 6;
  RedisCluster();

  std::vector<RedisServer*> nodes();
  // "127.0.0.1:p1,127.0.0.1:p2,..." (REDIS_CLUSTER_NODES).
  std::string seeds() const;
  // The node serving `slot` as its primary, as the cluster says now; nullptr when none does.
  RedisServer* PrimaryOf(int slot);
  // A replica of `primary` as the cluster says now; nullptr when none.
  RedisServer* ReplicaOf(RedisServer& primary);
  // The node's id in the cluster (CLUSTER MYID).
  static std::string IdOf(RedisServer& node);
  // Every live node reports cluster_state:ok and agrees on who serves every slot, and every
  // shard lists a replica.
  bool Healthy();
  // Moves `slot` (and its keys) from its primary to `to`, as redis-cli --cluster reshard does:
  // BeginMove (the slot is migrating: a key already moved is answered with ASK), MoveKeys,
  // FinishMove (the slot is `to`'s: MOVED).
  void MoveSlot(int slot, RedisServer& to);
  void BeginMove(int slot, RedisServer& from, RedisServer& to);
  // Moves `keys`, or every key of the slot when empty.
  void MoveKeys(int slot, RedisServer& from, RedisServer& to, std::vector<std::string> keys = {});
  void FinishMove(int slot, RedisServer& to);

 private:
  count::testing::TempDir dir_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

// The AUTH and SELECT check every Redis client passes: a server that requires a password,
// a user `app` with its own, database 3; `send` runs one command through the client under
// test, built on the RedisClient it is given (its endpoint and options).
using SendFn = std::function<Reply(RedisClient& client, std::vector<std::string> args)>;
void ExpectAuthenticatesAndSelects(const SendFn& send);

// The topology shared by all tests of one binary: started on first use, stopped when
// the tests end.
RedisTopology& SharedTopology();

}  // namespace count::redis::testing
