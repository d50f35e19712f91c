#pragma once
// UC-004 numerics: trend, comparison and prediction of counter series. Pure functions, no
// I/O. Values are int64 and are computed in long double, whose 64-bit mantissa holds every
// int64 and every difference of two exactly; times are centred before fitting, so epoch
// milliseconds lose no precision.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/history.hpp"

namespace count::analysis {

// A bucket's start and value, as the history store reads them (HistoryStore::LastValues).
using Point = core::BucketValue;

// Least squares of value over time (ms), on centred time.
struct LinearFit {
  long double slope_per_ms = 0;
  long double mean_t = 0;  // ms after the first point's time
  long double mean_value = 0;
  // 1 - SSres/SStot in [0, 1]; 1 when all values are equal (a flat line fits exactly).
  long double r2 = 1;
  long double rms_residual = 0;  // sqrt(SSres / n)
};
// Needs 2+ points at 2+ distinct times; nullopt otherwise.
std::optional<LinearFit> Fit(std::span<const Point> points);

enum class Classification { kIncreasing, kDecreasing, kStable, kVolatile };
std::string_view ToString(Classification c);

// Thresholds of the classification, as fractions of the series' scale
// max(|mean|, (max - min) / 2):
//  * all values equal → stable;
//  * volatile when the scatter around the fitted line (rms residual) exceeds 10% of the
//    scale and half the fitted change (slope × time span): noise dominates;
//  * stable when the fitted change is under 1% of the scale;
//  * otherwise increasing or decreasing by the sign of the slope.
inline constexpr long double kVolatileFraction = 0.10L;
inline constexpr long double kStableFraction = 0.01L;

struct Trend {
  std::int64_t min = 0;
  std::int64_t max = 0;
  long double avg = 0;
  long double change = 0;  // last - first, exact (it may exceed the int64 range)
  // change / |first| × 100; nullopt when first == 0 (no percentage of nothing).
  std::optional<long double> change_rate;
  Classification classification = Classification::kStable;
};
// Needs 2+ points in time order; nullopt otherwise.
std::optional<Trend> ComputeTrend(std::span<const Point> points);

// One counter against the others: value / max, value / min, value / avg of all values;
// nullopt where that denominator is 0.
struct Relative {
  std::optional<long double> to_max, to_min, to_avg;
};
struct Comparison {
  std::int64_t max = 0;
  std::int64_t min = 0;
  long double avg = 0;
  std::vector<Relative> relative;  // one per value, in order
};
// Needs 1+ values (the API asks for 2+ counters).
Comparison Compare(std::span<const std::int64_t> values);

struct Prediction {
  std::vector<std::pair<core::Timestamp, long double>> points;  // one per future time
  long double confidence = 1;                                   // R² of the fit
  long double slope_per_day = 0;
};
// The fitted line evaluated at `future`. Needs 2+ points at 2+ distinct times; with
// exactly 2 the line passes through both and the confidence is 1.
std::optional<Prediction> Predict(std::span<const Point> points,
                                  std::span<const core::Timestamp> future);

// The start of the bucket `k` units after the bucket starting at `start` (months by the
// calendar, the rest by fixed lengths).
core::Timestamp AddUnits(core::Timestamp start, core::Unit unit, std::int64_t k);

}  // namespace count::analysis
