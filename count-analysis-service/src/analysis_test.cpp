// Numerics on hand-computed cases; the expected figures are worked out in the comments.
#include "analysis.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace count::analysis {
namespace {

using core::Unit;
using std::chrono::days;

core::Timestamp T(std::string_view text) { return core::ParseTimestamp(text).value(); }

// Points one day apart from `start`.
std::vector<Point> Daily(std::vector<std::int64_t> values,
                         core::Timestamp start = core::Timestamp{}) {
  std::vector<Point> points;
  for (std::size_t i = 0; i < values.size(); ++i) points.push_back({start + days(i), values[i]});
  return points;
}

constexpr long double kEps = 1e-9L;

TEST(BucketStartTest, FloorsToEachUnitInUtc) {
  const auto t = T("2024-02-29T13:45:30.250Z");  // a Thursday
  EXPECT_EQ(BucketStart(t, Unit::kMinute), T("2024-02-29T13:45:00Z"));
  EXPECT_EQ(BucketStart(t, Unit::kHour), T("2024-02-29T13:00:00Z"));
  EXPECT_EQ(BucketStart(t, Unit::kDay), T("2024-02-29T00:00:00Z"));
  EXPECT_EQ(BucketStart(t, Unit::kWeek), T("2024-02-26T00:00:00Z"));  // Monday
  EXPECT_EQ(BucketStart(t, Unit::kMonth), T("2024-02-01T00:00:00Z"));
  // A Monday starts its own week; a Sunday belongs to the week before.
  EXPECT_EQ(BucketStart(T("2024-03-04T00:00:00Z"), Unit::kWeek), T("2024-03-04T00:00:00Z"));
  EXPECT_EQ(BucketStart(T("2024-03-03T23:59:59Z"), Unit::kWeek), T("2024-02-26T00:00:00Z"));
  // Before 1970 the floor still goes down: 1969-12-31 is a Wednesday.
  EXPECT_EQ(BucketStart(T("1969-12-31T23:59:30Z"), Unit::kMinute), T("1969-12-31T23:59:00Z"));
  EXPECT_EQ(BucketStart(T("1969-12-31T23:59:30Z"), Unit::kWeek), T("1969-12-29T00:00:00Z"));
}

TEST(BucketStartTest, UnitsRoundTripThroughText) {
  for (Unit u : {Unit::kMinute, Unit::kHour, Unit::kDay, Unit::kWeek, Unit::kMonth})
    EXPECT_EQ(core::ParseUnit(core::ToString(u)), u);
  EXPECT_FALSE(core::ParseUnit("year"));
  EXPECT_FALSE(core::ParseUnit("Hour"));
}

TEST(AddUnitsTest, StepsByFixedLengthsAndCalendarMonths) {
  EXPECT_EQ(AddUnits(T("2024-01-31T23:00:00Z"), Unit::kHour, 2), T("2024-02-01T01:00:00Z"));
  EXPECT_EQ(AddUnits(T("2024-02-26T00:00:00Z"), Unit::kWeek, 1), T("2024-03-04T00:00:00Z"));
  EXPECT_EQ(AddUnits(T("2024-11-01T00:00:00Z"), Unit::kMonth, 3), T("2025-02-01T00:00:00Z"));
}

TEST(FitTest, NeedsTwoDistinctTimes) {
  EXPECT_FALSE(Fit(Daily({5})));
  const std::vector<Point> same_time = {{T("2024-01-01T00:00:00Z"), 1},
                                        {T("2024-01-01T00:00:00Z"), 2}};
  EXPECT_FALSE(Fit(same_time));
}

TEST(TrendTest, SteadyRiseIsIncreasing) {
  // 100, 110, 120, 130: min 100, max 130, avg 115, change 30 = 30% of 100; exact line.
  const auto t = ComputeTrend(Daily({100, 110, 120, 130}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->min, 100);
  EXPECT_EQ(t->max, 130);
  EXPECT_NEAR(t->avg, 115, kEps);
  EXPECT_EQ(t->change, 30);
  EXPECT_NEAR(*t->change_rate, 30, kEps);
  EXPECT_EQ(t->classification, Classification::kIncreasing);
}

TEST(TrendTest, FallIsDecreasing) {
  // 200, 150, 100: change -100 = -50% of 200.
  const auto t = ComputeTrend(Daily({200, 150, 100}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->change, -100);
  EXPECT_NEAR(*t->change_rate, -50, kEps);
  EXPECT_EQ(t->classification, Classification::kDecreasing);
}

TEST(TrendTest, EqualValuesAreStable) {
  const auto t = ComputeTrend(Daily({5, 5, 5}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->change, 0);
  EXPECT_NEAR(*t->change_rate, 0, kEps);
  EXPECT_EQ(t->classification, Classification::kStable);
}

TEST(TrendTest, SmallWobbleIsStable) {
  // 1000, 1001, 999, 1000 at days 0..3: centred days -1.5, -0.5, 0.5, 1.5; deviations
  // 0, 1, -1, 0; Sxy = -0.5 - 0.5 = -1, Sxx = 5, slope -0.2/day, fitted change -0.6.
  // Residuals -0.3, 0.9, -0.9, 0.3: rms sqrt(1.8 / 4) = 0.67, under 10% of the scale 1000;
  // |fitted change| 0.6 < 1% of 1000 → stable.
  const auto t = ComputeTrend(Daily({1000, 1001, 999, 1000}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->classification, Classification::kStable);
}

TEST(TrendTest, AlternationIsVolatile) {
  // 100, 200, 100, 200: mean 150, Sxy = 75 - 25 - 25 + 75 = 100, Sxx = 5, slope 20/day,
  // fitted change 60. Fitted 120, 140, 160, 180; residuals -20, 60, -60, 20; SSres 8000,
  // rms sqrt(2000) = 44.7 > 10% of the scale max(150, 50) = 15 and > 60 / 2 → volatile.
  const auto t = ComputeTrend(Daily({100, 200, 100, 200}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->classification, Classification::kVolatile);
  EXPECT_EQ(t->change, 100);
}

TEST(TrendTest, RiseWithNoiseIsStillIncreasing) {
  // 100, 140, 130, 170, 160, 200: mean 150, centred days -2.5..2.5, deviations -50, -10, -20,
  // 20, 10, 50. Sxy = 125 + 15 + 10 + 10 + 15 + 125 = 300, Sxx = 17.5, slope 17.14/day,
  // fitted change 85.7. Fitted 107.1, 124.3, 141.4, 158.6, 175.7, 192.9; residuals -7.1,
  // 15.7, -11.4, 11.4, -15.7, 7.1: rms ≈ 12.0 < 15 (10% of 150) → not volatile → increasing.
  const auto t = ComputeTrend(Daily({100, 140, 130, 170, 160, 200}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->classification, Classification::kIncreasing);
}

TEST(TrendTest, ChangeRateOfZeroFirstIsNull) {
  const auto t = ComputeTrend(Daily({0, 10}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->change, 10);
  EXPECT_FALSE(t->change_rate);
  EXPECT_EQ(t->classification, Classification::kIncreasing);
}

TEST(TrendTest, ChangeRateIsAPercentageOfTheFirstMagnitude) {
  // -100 → -50: change +50 = 50% of |-100|.
  const auto t = ComputeTrend(Daily({-100, -50}));
  ASSERT_TRUE(t);
  EXPECT_NEAR(*t->change_rate, 50, kEps);
  EXPECT_EQ(t->classification, Classification::kIncreasing);
}

TEST(TrendTest, RampThroughZeroUsesHalfTheRangeAsScale) {
  // -10, 0, 10: mean 0, scale = (10 - -10) / 2 = 10, fitted change 20 → increasing.
  const auto t = ComputeTrend(Daily({-10, 0, 10}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->classification, Classification::kIncreasing);
}

TEST(TrendTest, ExtremeValuesStayExact) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  const auto near_max = ComputeTrend(Daily({kMax - 2, kMax - 1, kMax}));
  ASSERT_TRUE(near_max);
  EXPECT_EQ(near_max->change, 2);
  EXPECT_EQ(near_max->max, kMax);
  // INT64_MIN → INT64_MAX: a change of 2^64 - 1, beyond int64 yet exact.
  const auto span = ComputeTrend(Daily({kMin, kMax}));
  ASSERT_TRUE(span);
  EXPECT_EQ(static_cast<std::uint64_t>(span->change), std::numeric_limits<std::uint64_t>::max());
  EXPECT_NEAR(*span->change_rate, 200, 1e-9);  // (2^64 - 1) / 2^63 × 100
}

TEST(TrendTest, OnePointIsNotATrend) { EXPECT_FALSE(ComputeTrend(Daily({7}))); }

TEST(CompareTest, RatiosAgainstMaxMinAndAverage) {
  // 10, 20, 0: max 20, min 0, avg 10. To max 0.5, 1, 0; to min: none (0); to avg 1, 2, 0.
  const std::vector<std::int64_t> values = {10, 20, 0};
  const auto c = Compare(values);
  EXPECT_EQ(c.max, 20);
  EXPECT_EQ(c.min, 0);
  EXPECT_NEAR(c.avg, 10, kEps);
  ASSERT_EQ(c.relative.size(), 3u);
  EXPECT_NEAR(*c.relative[0].to_max, 0.5, kEps);
  EXPECT_NEAR(*c.relative[1].to_max, 1, kEps);
  EXPECT_NEAR(*c.relative[2].to_max, 0, kEps);
  for (const auto& r : c.relative) EXPECT_FALSE(r.to_min);
  EXPECT_NEAR(*c.relative[0].to_avg, 1, kEps);
  EXPECT_NEAR(*c.relative[1].to_avg, 2, kEps);
  EXPECT_NEAR(*c.relative[2].to_avg, 0, kEps);
}

TEST(CompareTest, ZeroAverageHasNoRatio) {
  // -10, 10: avg 0 → no ratio to it; to max -1, 1; to min 1, -1.
  const std::vector<std::int64_t> values = {-10, 10};
  const auto c = Compare(values);
  EXPECT_FALSE(c.relative[0].to_avg);
  EXPECT_NEAR(*c.relative[0].to_max, -1, kEps);
  EXPECT_NEAR(*c.relative[1].to_min, -1, kEps);
  EXPECT_NEAR(*c.relative[0].to_min, 1, kEps);
}

TEST(PredictTest, ExactLineExtendsWithFullConfidence) {
  // 10, 12, 14, 16 daily: slope 2/day, R² 1; days 4 and 5 → 18, 20.
  const auto start = T("2024-01-01T00:00:00Z");
  const std::vector<core::Timestamp> future = {start + days(4), start + days(5)};
  const auto p = Predict(Daily({10, 12, 14, 16}, start), future);
  ASSERT_TRUE(p);
  EXPECT_NEAR(p->slope_per_day, 2, kEps);
  EXPECT_NEAR(p->confidence, 1, kEps);
  ASSERT_EQ(p->points.size(), 2u);
  EXPECT_EQ(p->points[0].first, future[0]);
  EXPECT_NEAR(p->points[0].second, 18, kEps);
  EXPECT_NEAR(p->points[1].second, 20, kEps);
}

TEST(PredictTest, NoisyLineOnEpochTimes) {
  // (day, value) = (0, 1), (1, 3), (2, 2), (3, 4) at 2024 epoch-ms times: centred days
  // -1.5..1.5, deviations -1.5, 0.5, -0.5, 1.5; Sxy = 4, Sxx = 5 → slope 0.8/day;
  // SStot = 5, SSres = 5 - 0.8 × 4 = 1.8 → R² = 0.64. Day 4: 2.5 + 0.8 × 2.5 = 4.5.
  const auto start = T("2024-06-01T00:00:00Z");
  const std::vector<core::Timestamp> future = {start + days(4)};
  const auto p = Predict(Daily({1, 3, 2, 4}, start), future);
  ASSERT_TRUE(p);
  EXPECT_NEAR(p->slope_per_day, 0.8, kEps);
  EXPECT_NEAR(p->confidence, 0.64, kEps);
  EXPECT_NEAR(p->points[0].second, 4.5, kEps);
}

TEST(PredictTest, FlatSeriesPredictsFlatWithFullConfidence) {
  const std::vector<core::Timestamp> future = {core::Timestamp{} + days(9)};
  const auto p = Predict(Daily({7, 7, 7}), future);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->slope_per_day, 0);
  EXPECT_EQ(p->confidence, 1);
  EXPECT_EQ(p->points[0].second, 7);
}

TEST(PredictTest, LargeValuesAtEpochTimesStayPrecise) {
  // 1e15 + 1000 per minute for 10,000 minutes: slope 1000 × 1440 per day, R² 1.
  const auto start = T("2025-01-01T00:00:00Z");
  std::vector<Point> points;
  for (int i = 0; i < 10'000; ++i)
    points.push_back({start + std::chrono::minutes(i), 1'000'000'000'000'000 + 1000LL * i});
  const std::vector<core::Timestamp> future = {start + std::chrono::minutes(10'000)};
  const auto p = Predict(points, future);
  ASSERT_TRUE(p);
  EXPECT_NEAR(p->slope_per_day, 1'440'000, 1e-6);
  EXPECT_NEAR(p->confidence, 1, 1e-12);
  EXPECT_NEAR(p->points[0].second, 1'000'000'010'000'000.0L, 1e-3);
}

TEST(PredictTest, OnePointIsInsufficient) {
  const std::vector<core::Timestamp> future = {core::Timestamp{} + days(1)};
  EXPECT_FALSE(Predict(Daily({1}), future));
}

}  // namespace
}  // namespace count::analysis
