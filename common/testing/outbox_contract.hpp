#pragma once
// What every core::EventOutbox must do when the relay acknowledges a batch (the Redis stream
// and the SQLite table): forget what the last Pending returned and nothing written after it.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/ports.hpp"

namespace count::testing {

// `create(id)` makes a change that records one event of counter `id`. The outbox starts
// empty. Five changes are written, three read, a sixth written, the three acknowledged.
inline void ExpectAcknowledgeForgetsOnlyWhatPendingReturned(
    core::EventOutbox& outbox, const std::function<void(const std::string&)>& create,
    const std::string& prefix) {
  ASSERT_EQ(outbox.Backlog(), 0u);
  for (int i = 1; i <= 5; ++i) create(prefix + std::to_string(i));
  const auto first = outbox.Pending(3);
  ASSERT_EQ(first.size(), 3u);
  create(prefix + "late");  // written between the read and the acknowledgement
  outbox.Acknowledge(first);
  EXPECT_EQ(outbox.Backlog(), 3u);
  const auto rest = outbox.Pending(10);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].count_id, prefix + "4");
  EXPECT_EQ(rest[2].count_id, prefix + "late");
  outbox.Acknowledge(rest);
  EXPECT_EQ(outbox.Backlog(), 0u);
}

// The outbox keeps the trace each mutation carried (core/trace.hpp) with its event, and no
// trace for a mutation without one. `id` is an existing counter of `values`, whose events
// `outbox` holds; the outbox starts empty.
inline void ExpectEventsCarryTheirTrace(core::CountValueStore& values, core::EventOutbox& outbox,
                                        const std::string& id) {
  ASSERT_EQ(outbox.Backlog(), 0u);
  const auto traced =
      core::ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(traced);
  const std::vector<core::Mutation> mutations = {
      {core::MutationKind::kIncrement, id, 2, *traced},
      {core::MutationKind::kDecrement, id, 1, {}},
      {core::MutationKind::kSet, id, 7, *traced},
  };
  ASSERT_EQ(values.Apply(mutations, nullptr).status, core::ApplyResult::Status::kApplied);
  const auto events = outbox.Pending(10);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].trace, *traced);
  EXPECT_EQ(events[0].trace.Format(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_FALSE(events[1].trace.IsValid());
  EXPECT_EQ(events[2].trace, *traced);
  outbox.Acknowledge(events);
  EXPECT_EQ(outbox.Backlog(), 0u);
}

}  // namespace count::testing
