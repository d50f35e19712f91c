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

}  // namespace count::testing
