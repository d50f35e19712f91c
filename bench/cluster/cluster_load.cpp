// The increment load of bench/redis_cluster.py: the write service's own path to a Redis Cluster
// (RedisLoopCountValueStore on event loops, group commit per tag group, apply.lua), without
// HTTP in front, so the figures are the shards' and the client's CPU goes to increments only.
//
//   cluster_load SEEDS MODE COUNTERS SECONDS [LOOPS] [IN_FLIGHT]
//
// MODE: spread (increments of COUNTERS counters, in turn), hot (one counter), hot-sharded (one
// counter created "sharded": true). Creates its counters (ids unique to the run), prints
// "ready" and waits for a line on stdin (so the caller measures from there), runs LOOPS event
// loops keeping IN_FLIGHT increments each in flight for SECONDS, checks every counter's value
// against the increments it answered, and prints one JSON line:
// {"mode","increments","seconds","errors","exact"}.
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "redis/key_layout.hpp"
#include "redis/redis_client.hpp"
#include "redis/redis_connection.hpp"
#include "redis/redis_count_value_store.hpp"
#include "redis/redis_loop_count_value_store.hpp"

namespace {

using namespace count;
using Clock = std::chrono::steady_clock;

thread_local boost::asio::io_context* this_loop = nullptr;
// Increments this loop keeps in flight; when the last one ends the loop stops (its Redis
// connections would keep it running).
thread_local int in_flight_here = 0;

struct Load {
  redis::RedisLoopCountValueStore& store;
  const std::vector<std::string>& ids;
  Clock::time_point end;
  std::atomic<long long> done{0}, errors{0};
  std::vector<std::atomic<long long>> per_counter;

  Load(redis::RedisLoopCountValueStore& s, const std::vector<std::string>& i, Clock::time_point e)
      : store(s), ids(i), end(e), per_counter(i.size()) {}

  // One increment; its answer sends the next until the time is up.
  void Next(std::size_t turn) {
    if (Clock::now() >= end) {
      if (--in_flight_here == 0) this_loop->stop();
      return;
    }
    const std::size_t i = turn % ids.size();
    auto m =
        std::make_shared<core::Mutation>(core::Mutation{core::MutationKind::kIncrement, ids[i], 1});
    store.Apply({m.get(), 1}, nullptr,
                [this, m, i, turn](std::exception_ptr error, core::ApplyResult r) {
                  if (error || r.outcomes.empty() ||
                      !std::holds_alternative<core::Applied>(r.outcomes[0])) {
                    ++errors;
                  } else {
                    ++done;
                    ++per_counter[i];
                  }
                  Next(turn + 7919);  // a prime step: every counter in turn, loops interleaved
                });
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: cluster_load SEEDS spread|hot|hot-sharded COUNTERS SECONDS "
                 "[LOOPS] [IN_FLIGHT]\n");
    return 2;
  }
  const std::string seeds = argv[1], mode = argv[2];
  const int counters = mode == "spread" ? std::stoi(argv[3]) : 1;
  const double seconds = std::stod(argv[4]);
  const int loops = argc > 5 ? std::stoi(argv[5]) : 2;
  const int in_flight = argc > 6 ? std::stoi(argv[6]) : 64;

  redis::RedisClient client(redis::ParseClusterNodes(seeds),
                            {.pool_size = 2, .timeout = std::chrono::seconds(5)});
  redis::RedisCountValueStore values(client, core::Now, {.max_backlog = 100'000'000},
                                     redis::KeyLayout::Cluster());
  const std::string run = std::to_string(std::random_device{}());
  std::vector<std::string> ids;
  for (int i = 0; i < counters; ++i) {
    // The number last: ids that differ only before a long common suffix fall unevenly into
    // tag groups (CRC16 is linear; the group is the slot's high part, key_layout.hpp).
    ids.push_back(mode == "spread" ? "bench." + run + "." + std::to_string(i) : "hot." + run);
    core::CountInfo info{ids.back(), "", std::nullopt, std::nullopt, {}, {}};
    info.sharded = mode == "hot-sharded";
    if (!values.Create(info, 0))
      return std::fprintf(stderr, "create %s failed\n", ids.back().c_str()), 1;
  }

  std::printf("ready\n");
  std::fflush(stdout);
  std::string go;
  std::getline(std::cin, go);

  std::vector<std::unique_ptr<boost::asio::io_context>> contexts;
  for (int l = 0; l < loops; ++l) contexts.push_back(std::make_unique<boost::asio::io_context>());
  redis::RedisLoopClient redis(client, [] { return this_loop; });
  redis::RedisLoopCountValueStore store(values, redis);
  const auto start = Clock::now();
  Load load(
      store, ids,
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  std::vector<std::thread> threads;
  for (int l = 0; l < loops; ++l)
    threads.emplace_back([&, l] {
      this_loop = contexts[l].get();
      in_flight_here = in_flight;
      for (int k = 0; k < in_flight; ++k)
        boost::asio::post(*this_loop, [&load, l, k, in_flight] {
          load.Next(static_cast<std::size_t>(l * in_flight + k));
        });
      this_loop->run();  // stopped when the last increment is answered
    });
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  // Exact: each counter holds the increments it answered (no error means none in doubt).
  bool exact = true;
  const auto records = values.GetMany(ids);
  for (std::size_t i = 0; i < ids.size(); ++i)
    exact = exact && records[i] && records[i]->value == load.per_counter[i].load();
  std::printf(
      "{\"mode\":\"%s\",\"increments\":%lld,\"seconds\":%.3f,\"errors\":%lld,\"exact\":%s}\n",
      mode.c_str(), load.done.load(), elapsed, load.errors.load(), exact ? "true" : "false");
  return load.errors.load() == 0 && exact ? 0 : 1;
}
