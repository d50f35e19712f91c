#include "core/count.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace count::core {
namespace {

constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
constexpr auto kMin = std::numeric_limits<std::int64_t>::min();

TEST(CountId, AcceptsTheDocumentedAlphabet) {
  EXPECT_TRUE(IsValidCountId("a"));
  EXPECT_TRUE(IsValidCountId("page.views:home_2-x"));
  EXPECT_TRUE(IsValidCountId(std::string(128, 'z')));
}

TEST(CountId, RejectsEverythingElse) {
  EXPECT_FALSE(IsValidCountId(""));
  EXPECT_FALSE(IsValidCountId(std::string(129, 'z')));
  EXPECT_FALSE(IsValidCountId("-leading"));
  EXPECT_FALSE(IsValidCountId(".leading"));
  EXPECT_FALSE(IsValidCountId("has space"));
  EXPECT_FALSE(IsValidCountId("slash/inside"));
  EXPECT_FALSE(IsValidCountId("caf\xc3\xa9"));
}

TEST(Arithmetic, IncrementAndDecrementCarryTheirDelta) {
  auto r = ApplyArithmetic({MutationKind::kIncrement, "a", 5}, 10, std::nullopt, std::nullopt);
  ASSERT_TRUE(std::holds_alternative<Applied>(r));
  EXPECT_EQ(std::get<Applied>(r).value, 15);
  EXPECT_EQ(std::get<Applied>(r).delta, 5);
  r = ApplyArithmetic({MutationKind::kDecrement, "a", 7}, 10, std::nullopt, std::nullopt);
  EXPECT_EQ(std::get<Applied>(r).value, 3);
  EXPECT_EQ(std::get<Applied>(r).delta, -7);
}

TEST(Arithmetic, SetCarriesItsDeltaWhenItFits) {
  auto r = ApplyArithmetic({MutationKind::kSet, "a", 3}, 10, std::nullopt, std::nullopt);
  EXPECT_EQ(std::get<Applied>(r).delta, -7);
  r = ApplyArithmetic({MutationKind::kSet, "a", kMax}, kMin, std::nullopt, std::nullopt);
  ASSERT_TRUE(std::holds_alternative<Applied>(r));
  EXPECT_EQ(std::get<Applied>(r).value, kMax);
  EXPECT_FALSE(std::get<Applied>(r).delta.has_value());
}

TEST(Arithmetic, NeverWraps) {
  EXPECT_EQ(std::get<MutationError>(ApplyArithmetic({MutationKind::kIncrement, "a", 1}, kMax,
                                                    std::nullopt, std::nullopt)),
            MutationError::kOverflow);
  EXPECT_EQ(std::get<MutationError>(ApplyArithmetic({MutationKind::kDecrement, "a", 2}, kMin + 1,
                                                    std::nullopt, std::nullopt)),
            MutationError::kOverflow);
  EXPECT_EQ(std::get<MutationError>(ApplyArithmetic({MutationKind::kDecrement, "a", kMax}, -2,
                                                    std::nullopt, std::nullopt)),
            MutationError::kOverflow);
}

TEST(Arithmetic, RespectsBoundsInclusive) {
  EXPECT_TRUE(std::holds_alternative<Applied>(
      ApplyArithmetic({MutationKind::kIncrement, "a", 1}, 9, 0, 10)));
  EXPECT_EQ(std::get<MutationError>(ApplyArithmetic({MutationKind::kIncrement, "a", 2}, 9, 0, 10)),
            MutationError::kAboveMax);
  EXPECT_EQ(std::get<MutationError>(ApplyArithmetic({MutationKind::kDecrement, "a", 1}, 0, 0, 10)),
            MutationError::kBelowMin);
  EXPECT_EQ(std::get<MutationError>(ApplyArithmetic({MutationKind::kSet, "a", 11}, 0, 0, 10)),
            MutationError::kAboveMax);
}

TEST(Timestamp, FormatsRfc3339WithMillisecondsUtc) {
  const auto t = ParseTimestamp("2026-11-22T08:15:30.123Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatTimestamp(*t), "2026-11-22T08:15:30.123Z");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("2026-11-22T10:15:30+02:00")),
            "2026-11-22T08:15:30.000Z");
  EXPECT_EQ(FormatTimestamp(Timestamp{}), "1970-01-01T00:00:00.000Z");
}

TEST(Timestamp, FormatsEachSecondAndMillisecondWhateverCameBefore) {
  // The calendar part is kept per thread between calls: a change of second, day or year, and
  // a step back, must each show.
  const Timestamp t = *ParseTimestamp("2026-12-31T23:59:59.998Z");
  EXPECT_EQ(FormatTimestamp(t), "2026-12-31T23:59:59.998Z");
  EXPECT_EQ(FormatTimestamp(t + std::chrono::milliseconds(1)), "2026-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatTimestamp(t + std::chrono::milliseconds(2)), "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestamp(t), "2026-12-31T23:59:59.998Z");
  EXPECT_EQ(FormatTimestamp(Timestamp{} - std::chrono::milliseconds(1)),
            "1969-12-31T23:59:59.999Z");
}

TEST(Timestamp, RejectsMalformedText) {
  for (const char* bad :
       {"", "2026-11-22", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-22T08:15:30",
        "2026-11-22T08:15:30.Z", "2026-11-22T25:00:00Z", "2026-11-22T08:15:30Zjunk"})
    EXPECT_FALSE(ParseTimestamp(bad)) << bad;
}

}  // namespace
}  // namespace count::core
