// Group commit on one loop (LoopGroupCommit) and the batch rule both drivers share.
#include "core/group_commit.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

namespace count::core {
namespace {

struct Req {
  int id;
  bool written = false;
};

TEST(BatchSize, TakesWhatFitsAndAtLeastOne) {
  const std::vector<std::size_t> weights{3, 4, 5};
  auto w = [](std::size_t x) { return x; };
  EXPECT_EQ(BatchSize(weights, 7, w), 2u);
  EXPECT_EQ(BatchSize(weights, 12, w), 3u);
  EXPECT_EQ(BatchSize(weights, 2, w), 1u);  // heavier than the bound: alone
  EXPECT_EQ(BatchSize(std::vector<std::size_t>{}, 2, w), 0u);
}

// A request alone goes out at once; those submitted while a write is in flight go out
// together as the next one, in order, split by the weight bound.
TEST(LoopGroupCommit, RequestsArrivingDuringAWriteShareTheNextOne) {
  std::vector<std::vector<int>> writes;
  std::vector<std::function<void()>> in_flight;  // the store's pending replies
  LoopGroupCommit<Req> group(3, [&](std::vector<Req*> batch, std::function<void()> finished) {
    writes.emplace_back();
    for (auto* r : batch) writes.back().push_back(r->id);
    in_flight.push_back([batch, finished] {
      for (auto* r : batch) r->written = true;
      finished();
    });
  });
  std::vector<Req> reqs{{1}, {2}, {3}, {4}, {5}};
  group.Submit(reqs[0], 1);
  ASSERT_EQ(writes.size(), 1u);  // at once
  for (int i = 1; i < 5; ++i) group.Submit(reqs[i], 1);
  EXPECT_EQ(writes.size(), 1u);  // they wait for the write in flight
  EXPECT_FALSE(reqs[1].written);

  auto reply = [&] {
    auto next = std::move(in_flight.front());
    in_flight.erase(in_flight.begin());
    next();
  };
  reply();
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_EQ(writes[1], (std::vector<int>{2, 3, 4}));  // bounded by the weight 3
  reply();
  ASSERT_EQ(writes.size(), 3u);
  EXPECT_EQ(writes[2], (std::vector<int>{5}));
  reply();
  EXPECT_TRUE(in_flight.empty());
  for (const auto& r : reqs) EXPECT_TRUE(r.written) << r.id;
  group.Submit(reqs[0], 1);  // idle again: at once
  EXPECT_EQ(writes.size(), 4u);
}

// With a defer hook (the loop's post), requests submitted in one turn of the loop go out
// together once that turn's handlers have run, and the deferred start is posted only once.
TEST(LoopGroupCommit, DeferredStartTakesTheRequestsOfOneTurn) {
  std::vector<std::vector<int>> writes;
  std::vector<std::function<void()>> posted, in_flight;
  LoopGroupCommit<Req> group(
      10,
      [&](std::vector<Req*> batch, std::function<void()> finished) {
        writes.emplace_back();
        for (auto* r : batch) writes.back().push_back(r->id);
        in_flight.push_back(std::move(finished));
      },
      [&](std::function<void()> f) { posted.push_back(std::move(f)); });
  std::vector<Req> reqs{{1}, {2}, {3}, {4}};
  for (int i = 0; i < 3; ++i) group.Submit(reqs[i], 1);
  EXPECT_TRUE(writes.empty());  // not at once
  ASSERT_EQ(posted.size(), 1u);
  posted.front()();
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0], (std::vector<int>{1, 2, 3}));
  group.Submit(reqs[3], 1);  // a write is in flight: waits for it, nothing posted
  EXPECT_EQ(posted.size(), 1u);
  in_flight.front()();
  ASSERT_EQ(writes.size(), 2u);
  EXPECT_EQ(writes[1], (std::vector<int>{4}));
}

}  // namespace
}  // namespace count::core
