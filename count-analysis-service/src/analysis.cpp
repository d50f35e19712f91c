#include "analysis.hpp"

#include <algorithm>
#include <cmath>

namespace count::analysis {
namespace {

long double Ms(core::Timestamp t, core::Timestamp origin) {
  return static_cast<long double>((t - origin).count());
}

}  // namespace

std::optional<LinearFit> Fit(std::span<const Point> points) {
  if (points.size() < 2) return std::nullopt;
  const auto origin = points.front().t;
  const auto n = static_cast<long double>(points.size());
  LinearFit fit;
  for (const auto& p : points) {
    fit.mean_t += Ms(p.t, origin);
    fit.mean_value += p.value;
  }
  fit.mean_t /= n;
  fit.mean_value /= n;
  long double sxx = 0, sxy = 0, syy = 0;
  for (const auto& p : points) {
    const long double dx = Ms(p.t, origin) - fit.mean_t, dy = p.value - fit.mean_value;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx == 0) return std::nullopt;  // every point at the same time: no line
  fit.slope_per_ms = sxy / sxx;
  long double ss_res = 0;
  for (const auto& p : points) {
    const long double fitted = fit.mean_value + fit.slope_per_ms * (Ms(p.t, origin) - fit.mean_t);
    ss_res += (p.value - fitted) * (p.value - fitted);
  }
  fit.r2 = syy == 0 ? 1.0L : std::clamp(1.0L - ss_res / syy, 0.0L, 1.0L);
  fit.rms_residual = std::sqrt(ss_res / n);
  return fit;
}

std::string_view ToString(Classification c) {
  switch (c) {
    case Classification::kIncreasing:
      return "increasing";
    case Classification::kDecreasing:
      return "decreasing";
    case Classification::kStable:
      return "stable";
    case Classification::kVolatile:
      return "volatile";
  }
  return "stable";
}

std::optional<Trend> ComputeTrend(std::span<const Point> points) {
  const auto fit = Fit(points);
  if (!fit) return std::nullopt;
  Trend trend;
  const auto [lo, hi] =
      std::minmax_element(points.begin(), points.end(),
                          [](const Point& a, const Point& b) { return a.value < b.value; });
  trend.min = lo->value;
  trend.max = hi->value;
  trend.avg = fit->mean_value;
  const long double first = points.front().value;
  trend.change = static_cast<long double>(points.back().value) - first;
  if (first != 0) trend.change_rate = trend.change / std::fabs(first) * 100;

  if (trend.min == trend.max) return trend;  // stable
  const long double scale =
      std::max(std::fabs(fit->mean_value),
               (static_cast<long double>(trend.max) - static_cast<long double>(trend.min)) / 2);
  const long double fitted_change = fit->slope_per_ms * Ms(points.back().t, points.front().t);
  if (fit->rms_residual > kVolatileFraction * scale &&
      fit->rms_residual > std::fabs(fitted_change) / 2)
    trend.classification = Classification::kVolatile;
  else if (std::fabs(fitted_change) < kStableFraction * scale)
    trend.classification = Classification::kStable;
  else
    trend.classification =
        fitted_change > 0 ? Classification::kIncreasing : Classification::kDecreasing;
  return trend;
}

Comparison Compare(std::span<const std::int64_t> values) {
  Comparison c;
  if (values.empty()) return c;
  c.min = *std::min_element(values.begin(), values.end());
  c.max = *std::max_element(values.begin(), values.end());
  for (auto v : values) c.avg += v;
  c.avg /= static_cast<long double>(values.size());
  const auto ratio = [](long double v, long double d) -> std::optional<long double> {
    if (d == 0) return std::nullopt;
    return v / d;
  };
  for (auto v : values) c.relative.push_back({ratio(v, c.max), ratio(v, c.min), ratio(v, c.avg)});
  return c;
}

std::optional<Prediction> Predict(std::span<const Point> points,
                                  std::span<const core::Timestamp> future) {
  const auto fit = Fit(points);
  if (!fit) return std::nullopt;
  Prediction p;
  p.confidence = fit->r2;
  p.slope_per_day = fit->slope_per_ms * 86'400'000.0L;
  const auto origin = points.front().t;
  for (auto t : future)
    p.points.emplace_back(t, fit->mean_value + fit->slope_per_ms * (Ms(t, origin) - fit->mean_t));
  return p;
}

core::Timestamp AddUnits(core::Timestamp start, core::Unit unit, std::int64_t k) {
  using namespace std::chrono;
  switch (unit) {
    case core::Unit::kMinute:
      return start + minutes(k);
    case core::Unit::kHour:
      return start + hours(k);
    case core::Unit::kDay:
      return start + days(k);
    case core::Unit::kWeek:
      return start + weeks(k);
    case core::Unit::kMonth: {
      const sys_days day = floor<days>(start);
      const year_month_day ymd{day};
      return sys_days{ymd + months(k)} + (start - day);
    }
  }
  return start;
}

}  // namespace count::analysis
