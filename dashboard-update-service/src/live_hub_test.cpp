#include "live_hub.hpp"

#include <gtest/gtest.h>

#include <map>
#include <thread>

namespace count::live {
namespace {

// Values for the snapshot only: a fake is enough to test the hub's rules.
class FakeValues final : public core::CountValueStore {
 public:
  std::map<std::string, std::int64_t> values;

  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override {
    std::vector<std::optional<core::CountRecord>> out;
    for (const auto& id : ids) {
      if (auto it = values.find(id); it != values.end())
        out.push_back(core::CountRecord{.id = id, .value = it->second});
      else
        out.emplace_back();
    }
    return out;
  }
  core::ApplyResult Apply(std::span<const core::Mutation>, const core::IdempotencyKey*) override {
    throw std::logic_error("not used");
  }
  std::optional<core::CountRecord> Get(std::string_view) override {
    throw std::logic_error("not used");
  }
  bool Create(const core::CountInfo&, std::int64_t) override { throw std::logic_error("not used"); }
  UpdateResult UpdateInfo(const core::CountInfo&) override { throw std::logic_error("not used"); }
  bool Delete(std::string_view, bool) override { throw std::logic_error("not used"); }
  bool Ping() override { return true; }
};

core::Event Update(std::string id, std::int64_t value, std::string event_id) {
  return core::Event{.event_id = std::move(event_id),
                     .type = core::EventType::kUpdated,
                     .count_id = std::move(id),
                     .delta = 1,
                     .value = value,
                     .timestamp = core::Timestamp(std::chrono::milliseconds(1'700'000'000'000))};
}

struct Frame {
  std::string id, event, data;
};

// Everything queued on the stream so far, as SSE frames (comments and retry lines skipped).
std::vector<Frame> Drain(http::Stream& stream) {
  bool closed = false;
  std::string text = stream.Take(closed);
  std::vector<Frame> frames;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find("\n\n", pos);
    if (end == std::string::npos) end = text.size();
    Frame f;
    std::string_view block(text.data() + pos, end - pos);
    while (!block.empty()) {
      auto nl = block.find('\n');
      auto line = block.substr(0, nl);
      if (line.starts_with("id: ")) f.id = line.substr(4);
      if (line.starts_with("event: ")) f.event = line.substr(7);
      if (line.starts_with("data: ")) f.data = line.substr(6);
      block = nl == std::string_view::npos ? "" : block.substr(nl + 1);
    }
    if (!f.event.empty()) frames.push_back(f);
    pos = end + 2;
  }
  return frames;
}

TEST(LiveHub, SendsSnapshotThenOnlyTheSubscribedCountersInOrder) {
  FakeValues values;
  values.values = {{"a", 5}, {"b", 7}};
  LiveHub hub(values, {});
  auto stream = hub.Subscribe({"a", "b", "gone"}, std::nullopt);
  ASSERT_TRUE(stream);
  auto frames = Drain(*stream);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].event, "initial");
  EXPECT_FALSE(frames[0].id.empty());
  EXPECT_NE(frames[0].data.find(R"({"countId":"a","value":5)"), std::string::npos);
  EXPECT_NE(frames[0].data.find(R"("missing":["gone"])"), std::string::npos);

  const std::vector<core::Event> events{Update("a", 6, "e1"), Update("c", 1, "e2"),
                                        Update("b", 8, "e3"), Update("a", 7, "e4")};
  hub.Publish(events);
  frames = Drain(*stream);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].id, "e1");
  EXPECT_EQ(frames[1].id, "e3");
  EXPECT_EQ(frames[2].id, "e4");
  EXPECT_EQ(frames[2].event, "count_updated");
  EXPECT_NE(frames[2].data.find(R"("value":7)"), std::string::npos);
}

// A sharded counter's part events (docs/ARCHITECTURE.md, "Hot counters") are sent with the
// counter's value, not the part's: the store's value after the batch's last one, less the
// deltas that follow each; a counter gone from the store counts on from the value seen last.
TEST(LiveHub, APartsEventCarriesItsCountersValue) {
  FakeValues values;
  values.values = {{"hot", 50}};
  LiveHub hub(values, {});
  auto stream = hub.Subscribe({"hot", "gone"}, std::nullopt);
  Drain(*stream);
  auto part = [](std::string id, std::int64_t part_value, std::int64_t delta, int sub,
                 std::string event_id) {
    auto e = Update(std::move(id), part_value, std::move(event_id));
    e.delta = delta;
    e.sub_counter = sub;
    return e;
  };
  hub.Publish(std::vector{part("hot", 3, 3, 0, "e1"), Update("other", 1, "e2"),
                          part("hot", 9, -2, 4, "e3"), part("gone", 7, 7, 1, "e4")});
  auto frames = Drain(*stream);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_NE(frames[0].data.find(R"("value":52,)"), std::string::npos) << frames[0].data;
  EXPECT_NE(frames[1].data.find(R"("value":50,)"), std::string::npos) << frames[1].data;
  EXPECT_NE(frames[2].data.find(R"("value":7,)"), std::string::npos) << frames[2].data;
  auto deleted = part("gone", 12, -12, core::Event::kOwnKey, "e6");
  deleted.type = core::EventType::kDeleted;
  hub.Publish(std::vector{part("gone", 2, 2, 3, "e5"), deleted});
  frames = Drain(*stream);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_NE(frames[0].data.find(R"("value":12,)"), std::string::npos) << frames[0].data;
  EXPECT_NE(frames[1].data.find(R"("value":12,)"), std::string::npos) << frames[1].data;
  // The snapshot agrees with the events.
  auto later = hub.Subscribe({"hot"}, std::nullopt);
  frames = Drain(*later);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_NE(frames[0].data.find(R"({"countId":"hot","value":50,)"), std::string::npos);
}

TEST(LiveHub, SnapshotShowsTheLastEventSeenRatherThanTheStore) {
  FakeValues values;
  values.values = {{"a", 100}};  // the store is ahead of the events delivered so far
  LiveHub hub(values, {});
  const std::vector<core::Event> events{Update("a", 3, "e1")};
  hub.Publish(events);
  auto stream = hub.Subscribe({"a"}, std::nullopt);
  auto frames = Drain(*stream);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].id, "e1");
  EXPECT_NE(frames[0].data.find(R"("value":3)"), std::string::npos);
}

TEST(LiveHub, ResumeReplaysWhatCameAfterTheLastEventIdInsideTheWindow) {
  FakeValues values;
  LiveHub hub(values, {.replay_events = 3});
  hub.Publish(std::vector{Update("a", 1, "e1"), Update("b", 1, "e2"), Update("a", 2, "e3"),
                          Update("a", 3, "e4")});
  // e1 fell out of the 3-event window; e2 is still in it.
  auto resumed = hub.Subscribe({"a"}, "e2");
  auto frames = Drain(*resumed);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].id, "e3");
  EXPECT_EQ(frames[1].id, "e4");

  auto too_old = hub.Subscribe({"a"}, "e1");
  frames = Drain(*too_old);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].event, "initial");
  EXPECT_EQ(frames[0].id, "e4");
  EXPECT_NE(frames[0].data.find(R"("value":3)"), std::string::npos);
}

TEST(LiveHub, AWindowOfZeroStillDeliversEveryEvent) {
  // Regression (found by fuzz/last_event_id_fuzzer): with SSE_REPLAY_EVENTS=0 the event
  // just added to the window was dropped before it was sent, and sending read freed memory.
  FakeValues values;
  LiveHub hub(values, {.replay_events = 0});
  auto stream = hub.Subscribe({"a"}, std::nullopt);
  ASSERT_TRUE(stream);
  Drain(*stream);
  const std::vector<core::Event> events{Update("a", 1, "e1"), Update("a", 2, "e2")};
  hub.Publish(events);
  auto frames = Drain(*stream);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].id, "e1");
  EXPECT_EQ(frames[1].id, "e2");
  EXPECT_NE(frames[1].data.find(R"("value":2)"), std::string::npos);
  // Nothing to resume from: a reconnect gets a snapshot.
  auto again = hub.Subscribe({"a"}, "e2");
  frames = Drain(*again);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].event, "initial");
}

TEST(LiveHub, DropsAClientThatDoesNotKeepUpAndNobodyElse) {
  FakeValues values;
  LiveHub hub(values, {.client_queue_bytes = 600});
  auto slow = hub.Subscribe({"a"}, std::nullopt);
  auto fast = hub.Subscribe({"a"}, std::nullopt);
  Drain(*fast);
  for (int i = 0; i < 20; ++i) {
    hub.Publish(std::vector{Update("a", i, "e" + std::to_string(i))});
    EXPECT_EQ(Drain(*fast).size(), 1u) << i;
  }
  EXPECT_TRUE(slow->Closed());
  EXPECT_EQ(hub.Dropped(), 1u);
  bool closed = false;
  const std::string last = slow->Take(closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(last.find("event: reconnect"), std::string::npos);
  EXPECT_NE(last.find("retry: "), std::string::npos);
}

TEST(LiveHub, RefusesBeyondTheSubscriberLimitAndFreesASlotWhenAStreamEnds) {
  FakeValues values;
  LiveHub hub(values, {.max_subscribers = 2});
  auto one = hub.Subscribe({"a"}, std::nullopt);
  auto two = hub.Subscribe({"b"}, std::nullopt);
  EXPECT_EQ(hub.Subscribe({"c"}, std::nullopt), nullptr);
  EXPECT_EQ(hub.Subscribers(), 2u);
  one->End();  // what the server does when the connection ends
  EXPECT_EQ(hub.Subscribers(), 1u);
  EXPECT_NE(hub.Subscribe({"c"}, std::nullopt), nullptr);
}

// The `summary` notices of one stream, awaited until their changes add up to `changes`
// (fails after 10 s: notices that never come).
std::vector<Frame> AwaitSummaries(http::Stream& stream, std::uint64_t changes) {
  std::vector<Frame> notices;
  std::uint64_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen < changes && std::chrono::steady_clock::now() < deadline) {
    for (auto& f : Drain(stream)) {
      EXPECT_EQ(f.event, "summary") << f.data;
      EXPECT_TRUE(f.id.empty()) << "a notice must not move Last-Event-ID";
      const auto n = f.data.find(R"("changes":)");
      if (n != std::string::npos) seen += std::stoull(f.data.substr(n + 10));
      notices.push_back(f);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(seen, changes);
  return notices;
}

TEST(LiveHub, SummaryNoticesAreCoalescedToOnePerIntervalAndOnlyFollowChanges) {
  FakeValues values;
  constexpr auto kInterval = std::chrono::milliseconds(100);
  LiveHub hub(values, {.summary_interval = kInterval});
  auto summary = hub.Subscribe({}, std::nullopt, /*summary=*/true);
  auto counters_only = hub.Subscribe({"a"}, std::nullopt);
  ASSERT_TRUE(summary && counters_only);
  ASSERT_EQ(Drain(*summary).size(), 1u);  // the (empty) snapshot
  Drain(*counters_only);

  // 60 changes of counters the summary stream does not follow, over about 300 ms.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 60; ++i) {
    hub.Publish(std::vector{Update("b" + std::to_string(i % 3), i, "e" + std::to_string(i))});
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto notices = AwaitSummaries(*summary, 60);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Consecutive notices are at least an interval apart: per-event notices would be ~60.
  EXPECT_GE(notices.size(), 1u);
  EXPECT_LE(notices.size(), std::size_t(1 + elapsed / kInterval)) << notices.size();
  EXPECT_TRUE(Drain(*counters_only).empty()) << "only streams that asked get notices";

  // No change, no notice (three intervals of quiet); the next change is told again.
  std::this_thread::sleep_for(3 * kInterval);
  EXPECT_TRUE(Drain(*summary).empty());
  hub.Publish(std::vector{Update("a", 1, "e-last")});
  EXPECT_EQ(AwaitSummaries(*summary, 1).size(), 1u);
  const auto frames = Drain(*counters_only);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].event, "count_updated");
}

TEST(LiveHub, ASummaryStreamThatEndsIsForgotten) {
  FakeValues values;
  LiveHub hub(values, {.summary_interval = std::chrono::milliseconds(100)});
  auto one = hub.Subscribe({}, std::nullopt, true);
  auto two = hub.Subscribe({}, std::nullopt, true);
  Drain(*two);
  one->End();
  EXPECT_EQ(hub.Subscribers(), 1u);
  hub.Publish(std::vector{Update("a", 1, "e1")});
  EXPECT_EQ(AwaitSummaries(*two, 1).size(), 1u);
}

}  // namespace
}  // namespace count::live
