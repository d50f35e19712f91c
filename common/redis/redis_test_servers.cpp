#include "redis/redis_test_servers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "core/ports.hpp"

namespace count::redis::testing {
namespace {

std::string InfoField(const RedisEndpoint& endpoint, const std::string& field) {
  Reply info = Run(endpoint, {"INFO", "replication"});
  const auto at = info.str.find(field + ":");
  if (at == std::string::npos) return {};
  const auto start = at + field.size() + 1;
  return info.str.substr(start, info.str.find('\r', start) - start);
}

// A field of a flat [name, value, ...] array, as SENTINEL replicas returns them.
std::string Field(const Reply& flat, const std::string& name) {
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2)
    if (flat.elements[i].str == name) return flat.elements[i + 1].str;
  return {};
}

void Require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("redis test servers: " + what);
}

}  // namespace

Reply Run(const RedisEndpoint& endpoint, std::vector<std::string> args) {
  RedisClient client(endpoint, {.pool_size = 1, .timeout = std::chrono::seconds(2)});
  return client.Command(std::move(args));
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    try {
      if (condition()) return true;
    } catch (const core::StoreUnavailable&) {
      // not up yet
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

RedisServer::RedisServer(const std::filesystem::path& dir, const std::string& name,
                         std::vector<std::string> extra_args)
    : port_(count::testing::FreePort()) {
  const auto home = dir / name;
  std::filesystem::create_directories(home);
  std::vector<std::string> argv{"redis-server",
                                "--port",
                                std::to_string(port_),
                                "--bind",
                                "127.0.0.1",
                                "--dir",
                                home.string(),
                                "--save",
                                "",
                                "--repl-diskless-sync-delay",
                                "0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<count::testing::Process>(argv, home / "redis.log");
  Require(count::testing::WaitForPort(port_), name + " did not open its port");
  Require(WaitUntil([&] {
            const std::string pong = Run(endpoint(), {"PING"}).str;
            return pong == "PONG" || pong.starts_with("NOAUTH");  // up, with or without AUTH
          }),
          name + " does not answer PING");
}

std::unique_ptr<RedisServer> RedisServer::Sentinel(const std::filesystem::path& dir,
                                                   const std::string& master_name,
                                                   int master_port) {
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->port_ = count::testing::FreePort();
  const auto home = dir / "sentinel";
  std::filesystem::create_directories(home);
  const auto conf = home / "sentinel.conf";
  std::ofstream(conf) << "port " << server->port_ << "\nbind 127.0.0.1\ndir " << home.string()
                      << "\nsentinel monitor " << master_name << " 127.0.0.1 " << master_port
                      << " 1\nsentinel down-after-milliseconds " << master_name
                      << " 500\nsentinel failover-timeout " << master_name << " 5000\n";
  const std::string binary = count::testing::FindExecutable({"redis-sentinel"});
  std::vector<std::string> argv = binary.empty()
                                      ? std::vector<std::string>{"redis-server", conf, "--sentinel"}
                                      : std::vector<std::string>{binary, conf};
  server->process_ = std::make_unique<count::testing::Process>(argv, home / "sentinel.log");
  Require(count::testing::WaitForPort(server->port_), "sentinel did not open its port");
  return server;
}

RedisTopology::RedisTopology() {
  primary_ = std::make_unique<RedisServer>(
      dir_.path(), "primary",
      std::vector<std::string>{"--appendonly", "yes", "--appendfsync", "everysec"});
  replica_ = std::make_unique<RedisServer>(
      dir_.path(), "replica",
      std::vector<std::string>{"--replicaof", "127.0.0.1", std::to_string(primary_->port())});
  Require(WaitUntil([&] { return InfoField(replica_->endpoint(), "master_link_status") == "up"; }),
          "replica did not sync");
  // Started after the replica is attached: its first INFO of the primary lists the replica.
  sentinel_ = RedisServer::Sentinel(dir_.path(), kMasterName, primary_->port());
  Require(WaitUntil([&] {
            Reply replicas = Run(sentinel_->endpoint(), {"SENTINEL", "replicas", kMasterName});
            return replicas.elements.size() == 1 &&
                   Field(replicas.elements[0], "flags") == "slave" &&
                   Field(replicas.elements[0], "master-link-status") == "ok";
          }),
          "sentinel does not see the replica");
}

SentinelConfig RedisTopology::sentinel_config() const {
  SentinelConfig config;
  config.sentinels = {{"127.0.0.1", sentinel_->port()}};
  config.master_name = kMasterName;
  return config;
}

namespace {

std::unique_ptr<RedisTopology> shared_topology;

class SharedTopologyEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { shared_topology.reset(); }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new SharedTopologyEnvironment);

}  // namespace

RedisTopology& SharedTopology() {
  if (!shared_topology) shared_topology = std::make_unique<RedisTopology>();
  return *shared_topology;
}

bool RedisTopology::FailOverGracefully() {
  const auto sentinel = sentinel_->endpoint();
  if (Run(sentinel, {"SENTINEL", "FAILOVER", kMasterName}).str != "OK") return false;
  const std::string replica_port = std::to_string(replica_->port());
  if (!WaitUntil([&] {
        Reply master = Run(sentinel, {"SENTINEL", "get-master-addr-by-name", kMasterName});
        return master.elements.size() == 2 && master.elements[1].str == replica_port;
      }))
    return false;
  return Run(primary_->endpoint(), {"REPLICAOF", "127.0.0.1", replica_port}).str == "OK";
}

RedisCluster::RedisCluster() {
  for (int i = 0; i < kNodes; ++i) {
    const int bus = count::testing::FreePort();
    nodes_.push_back(std::make_unique<RedisServer>(
        dir_.path(), "node" + std::to_string(i),
        std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-port", std::to_string(bus),
                                 "--cluster-config-file", "nodes.conf", "--cluster-node-timeout",
                                 "1000", "--appendonly", "no"}));
  }
  std::vector<std::string> create{count::testing::FindExecutable({"redis-cli"}), "--cluster",
                                  "create"};
  for (auto& n : nodes_) create.push_back("127.0.0.1:" + std::to_string(n->port()));
  create.insert(create.end(), {"--cluster-replicas", "1", "--cluster-yes"});
  Require(count::testing::Run(create, dir_.path() / "create.log") == 0,
          "redis-cli --cluster create failed (see " + (dir_.path() / "create.log").string() + ")");
  Require(WaitUntil([&] { return Healthy(); }, std::chrono::seconds(30)),
          "the cluster did not become ready");
}

std::vector<RedisServer*> RedisCluster::nodes() {
  std::vector<RedisServer*> out;
  for (auto& n : nodes_) out.push_back(n.get());
  return out;
}

std::string RedisCluster::seeds() const {
  std::string out;
  for (const auto& n : nodes_)
    out += (out.empty() ? "" : ",") + ("127.0.0.1:" + std::to_string(n->port()));
  return out;
}

std::string RedisCluster::IdOf(RedisServer& node) {
  return Run(node.endpoint(), {"CLUSTER", "MYID"}).str;
}

namespace {

// A live node's view of the cluster (CLUSTER SLOTS) as text, to compare views.
std::string SlotsView(const RedisEndpoint& endpoint) {
  Reply r = Run(endpoint, {"CLUSTER", "SLOTS"});
  std::string out;
  std::vector<std::string> ranges;
  for (const auto& range : r.elements) {
    if (range.elements.size() < 3) return "";
    // Its first slot, last slot, primary's port and number of replicas.
    ranges.push_back(std::to_string(range.elements[0].integer) + "-" +
                     std::to_string(range.elements[1].integer) + "@" +
                     std::to_string(range.elements[2].elements.at(1).integer) + "+" +
                     std::to_string(range.elements.size() - 3));
  }
  std::sort(ranges.begin(), ranges.end());
  for (const auto& s : ranges) out += s + " ";
  return out;
}

}  // namespace

bool RedisCluster::Healthy() {
  std::string view;
  for (auto& n : nodes_) {
    if (!n->process().Running()) continue;
    Reply info = Run(n->endpoint(), {"CLUSTER", "INFO"});
    if (info.str.find("cluster_state:ok") == std::string::npos) return false;
    const std::string mine = SlotsView(n->endpoint());
    if (mine.empty() || (!view.empty() && mine != view)) return false;
    view = mine;
  }
  // Every slot served: the ranges cover 0-16383.
  Reply r = Run(
      nodes_.front()->process().Running() ? nodes_.front()->endpoint() : nodes_.back()->endpoint(),
      {"CLUSTER", "SLOTS"});
  long long covered = 0;
  for (const auto& range : r.elements) {
    covered += range.elements[1].integer - range.elements[0].integer + 1;
    if (range.elements.size() < 4) return false;  // a shard without its replica yet
  }
  return covered == 16384;
}

RedisServer* RedisCluster::PrimaryOf(int slot) {
  for (auto& n : nodes_) {
    if (!n->process().Running()) continue;
    Reply r = Run(n->endpoint(), {"CLUSTER", "SLOTS"});
    for (const auto& range : r.elements) {
      if (slot < range.elements[0].integer || slot > range.elements[1].integer) continue;
      const auto port = range.elements[2].elements.at(1).integer;
      for (auto& m : nodes_)
        if (m->port() == port) return m.get();
    }
    return nullptr;
  }
  return nullptr;
}

RedisServer* RedisCluster::ReplicaOf(RedisServer& primary) {
  for (auto& n : nodes_) {
    if (n.get() == &primary || !n->process().Running()) continue;
    const std::string master = InfoField(n->endpoint(), "master_port");
    if (master == std::to_string(primary.port())) return n.get();
  }
  return nullptr;
}

void RedisCluster::MoveSlot(int slot, RedisServer& to) {
  RedisServer* from = PrimaryOf(slot);
  Require(from != nullptr, "no primary serves slot " + std::to_string(slot));
  if (from == &to) return;
  BeginMove(slot, *from, to);
  MoveKeys(slot, *from, to);
  FinishMove(slot, to);
}

void RedisCluster::BeginMove(int slot, RedisServer& from, RedisServer& to) {
  const std::string s = std::to_string(slot);
  Require(Run(to.endpoint(), {"CLUSTER", "SETSLOT", s, "IMPORTING", IdOf(from)}).str == "OK",
          "SETSLOT IMPORTING");
  Require(Run(from.endpoint(), {"CLUSTER", "SETSLOT", s, "MIGRATING", IdOf(to)}).str == "OK",
          "SETSLOT MIGRATING");
}

void RedisCluster::MoveKeys(int slot, RedisServer& from, RedisServer& to,
                            std::vector<std::string> keys) {
  const bool all = keys.empty();
  for (;;) {
    if (all) {
      keys.clear();
      Reply in = Run(from.endpoint(), {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
      for (const auto& k : in.elements) keys.push_back(k.str);
    }
    if (keys.empty()) return;
    std::vector<std::string> migrate{"MIGRATE", "127.0.0.1", std::to_string(to.port()), "", "0",
                                     "5000",    "KEYS"};
    migrate.insert(migrate.end(), keys.begin(), keys.end());
    Reply r = Run(from.endpoint(), migrate);
    Require(!r.IsError(), "MIGRATE: " + r.str);
    if (!all) return;
  }
}

void RedisCluster::FinishMove(int slot, RedisServer& to) {
  const std::string s = std::to_string(slot);
  const std::string id = IdOf(to);
  // The new owner first, so the slot is never served by nobody.
  Require(Run(to.endpoint(), {"CLUSTER", "SETSLOT", s, "NODE", id}).str == "OK", "SETSLOT NODE");
  for (auto& n : nodes_)
    if (n.get() != &to && n->process().Running() && InfoField(n->endpoint(), "role") == "master")
      Run(n->endpoint(), {"CLUSTER", "SETSLOT", s, "NODE", id});
}

void ExpectAuthenticatesAndSelects(const SendFn& send) {
  using namespace std::chrono_literals;
  count::testing::TempDir dir;
  RedisServer server(dir.path(), "auth", {"--requirepass", "pw0"});
  RedisEndpoint admin{"127.0.0.1", server.port(), "", "pw0", 0};
  ASSERT_EQ(Run(admin, {"ACL", "SETUSER", "app", "on", ">pw1", "~*", "+@all"}).str, "OK");

  RedisClient db3(
      ParseRedisUrl("redis://app:pw1@127.0.0.1:" + std::to_string(server.port()) + "/3"));
  EXPECT_EQ(send(db3, {"SET", "where", "three"}).str, "OK");
  EXPECT_TRUE(Run(admin, {"GET", "where"}).IsNil());
  EXPECT_EQ(Run(RedisEndpoint{"127.0.0.1", server.port(), "", "pw0", 3}, {"GET", "where"}).str,
            "three");

  RedisClient wrong(RedisEndpoint{"127.0.0.1", server.port(), "", "nope", 0},
                    {.pool_size = 1, .timeout = 300ms});
  try {
    send(wrong, {"PING"});
    ADD_FAILURE() << "a wrong password must not connect";
  } catch (const core::StoreUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("AUTH"), std::string::npos) << e.what();
  }
}

}  // namespace count::redis::testing
