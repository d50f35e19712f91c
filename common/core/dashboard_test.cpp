#include "core/dashboard.hpp"

#include <gtest/gtest.h>

#include <set>

namespace count::core {
namespace {

Widget W(std::string id, std::string type, std::vector<std::string> counts = {"a"},
         WidgetLayout layout = {0, 0, 4, 2}) {
  return Widget{std::move(id), std::move(type), "", std::move(counts), "", "", "", layout};
}

// prefix + n (built by appending: GCC 12 warns falsely on "x" + std::to_string(n)).
std::string Name(std::string prefix, std::size_t n) { return prefix.append(std::to_string(n)); }

Dashboard D(std::vector<Widget> widgets = {}) {
  return Dashboard{"shop", "Shop", std::move(widgets), {}, {}};
}

class CheckDashboardTest : public ::testing::Test {
 protected:
  std::optional<Problem> Check(const Dashboard& d) {
    return CheckDashboard(d, [this](const std::string& id) {
      looked_up.push_back(id);
      return known.contains(id);
    });
  }
  // The problem's kind, or "" when valid; the detail goes to `detail`.
  std::string Kind(const Dashboard& d) {
    const auto p = Check(d);
    detail = p ? p->detail : "";
    if (!p) return "";
    switch (p->outcome) {
      case Outcome::kInvalidDashboardId:
        return "invalid-dashboard-id";
      case Outcome::kInvalidCountId:
        return "invalid-count-id";
      case Outcome::kValidation:
        return "validation-error";
      case Outcome::kUnknownCount:
        return "unknown-count";
      default:
        return "unexpected";
    }
  }

  std::set<std::string, std::less<>> known = {"a", "b", "c"};
  std::vector<std::string> looked_up;
  std::string detail;
};

TEST_F(CheckDashboardTest, AcceptsEveryWidgetTypeWithItsOptions) {
  auto chart = W("c1", "chart", {"a", "b"}, {4, 0, 8, 4});
  chart.chart_type = "bar";
  chart.period = "24h";
  chart.unit = "hour";
  auto analysis = W("an", "analysis", {"a", "b"}, {0, 4, 12, 6});
  analysis.chart_type = "comparison";
  analysis.period = "7d";
  analysis.unit = "day";
  auto stat = W("s", "stat", {}, {0, 10, 3, 1});
  stat.period = "30d";
  EXPECT_EQ(Kind(D({W("k", "count", {"a"}), chart, analysis, stat})), "") << detail;
  EXPECT_EQ(looked_up, (std::vector<std::string>{"a", "b"}));  // each distinct id once
  EXPECT_EQ(Kind(D()), "") << "an empty dashboard is fine";
}

TEST_F(CheckDashboardTest, IdFollowsTheCountIdRule) {
  for (const char* id : {"", "-x", "a b", "a/b", "é"}) {
    auto d = D();
    d.id = id;
    EXPECT_EQ(Kind(d), "invalid-dashboard-id") << id;
  }
  auto d = D();
  d.id = std::string(128, 'x');
  EXPECT_EQ(Kind(d), "");
  d.id = std::string(129, 'x');
  EXPECT_EQ(Kind(d), "invalid-dashboard-id");
}

TEST_F(CheckDashboardTest, NameIsRequiredAndBoundedInCharacters) {
  auto d = D();
  for (const char* name : {"", "   ", "\t\n"}) {
    d.name = name;
    EXPECT_EQ(Kind(d), "validation-error") << '"' << name << '"';
  }
  d.name.clear();
  for (int i = 0; i < 200; ++i) d.name += "조";  // 600 bytes, 200 characters
  EXPECT_EQ(Kind(d), "") << detail;
  d.name += "x";
  EXPECT_EQ(Kind(d), "validation-error");
}

TEST_F(CheckDashboardTest, WidgetIdsAreValidAndUnique) {
  EXPECT_EQ(Kind(D({W("w1", "count"), W("w1", "count")})), "validation-error");
  EXPECT_NE(detail.find("widgets[1].id"), std::string::npos) << detail;
  EXPECT_EQ(Kind(D({W("", "count")})), "validation-error");
  EXPECT_EQ(Kind(D({W("-w", "count")})), "validation-error");
}

TEST_F(CheckDashboardTest, WidgetTypeIsOneOfFour) {
  for (const char* type : {"", "gauge", "Count", "chart "})
    EXPECT_EQ(Kind(D({W("w", type)})), "validation-error") << type;
}

TEST_F(CheckDashboardTest, WidgetCountIsBounded) {
  std::vector<Widget> widgets;
  for (std::size_t i = 0; i < kMaxWidgets; ++i) widgets.push_back(W(Name("w", i), "count"));
  EXPECT_EQ(Kind(D(widgets)), "") << detail;
  widgets.push_back(W("one-more", "count"));
  EXPECT_EQ(Kind(D(widgets)), "validation-error");
}

TEST_F(CheckDashboardTest, LayoutStaysOnTheTwelveColumnGrid) {
  const std::vector<WidgetLayout> good = {{0, 0, 12, 1}, {11, 0, 1, 24}, {6, 10'000, 6, 3}};
  for (const auto& l : good) EXPECT_EQ(Kind(D({W("w", "count", {"a"}, l)})), "") << detail;
  const std::vector<WidgetLayout> bad = {{-1, 0, 2, 2}, {0, -1, 2, 2},    {0, 0, 0, 2},
                                         {0, 0, 13, 2}, {11, 0, 2, 2},    {0, 0, 2, 0},
                                         {0, 0, 2, 25}, {0, 10'001, 2, 2}};
  for (const auto& l : bad) {
    EXPECT_EQ(Kind(D({W("w", "count", {"a"}, l)})), "validation-error")
        << l.x << "," << l.y << "," << l.w << "," << l.h;
    EXPECT_NE(detail.find("widgets[0].layout"), std::string::npos) << detail;
  }
}

TEST_F(CheckDashboardTest, CountIdsAreValidDistinctAndBounded) {
  EXPECT_EQ(Kind(D({W("w", "chart", {"a", "bad id"})})), "invalid-count-id");
  EXPECT_EQ(Kind(D({W("w", "chart", {"a", "a"})})), "validation-error");
  for (const char* type : {"count", "chart", "analysis"})
    EXPECT_EQ(Kind(D({W("w", type, {})})), "validation-error") << type;
  std::vector<std::string> many;
  for (std::size_t i = 0; i <= kMaxWidgetCounts; ++i) many.push_back(Name("n", i));
  EXPECT_EQ(Kind(D({W("w", "chart", many)})), "validation-error");
  // 100 distinct counters per dashboard at most, however they are spread over widgets.
  std::vector<Widget> widgets;
  for (int i = 0; i < 6; ++i) {
    std::vector<std::string> ids;
    for (int j = 0; j < 17; ++j) ids.push_back(Name("n", i * 17 + j));
    widgets.push_back(W(Name("w", i), "chart", ids));
  }
  EXPECT_EQ(Kind(D(widgets)), "validation-error");
  EXPECT_TRUE(looked_up.empty()) << "nothing is looked up for an invalid dashboard";
}

TEST_F(CheckDashboardTest, MissingCountersAreAllNamed) {
  EXPECT_EQ(
      Kind(D({W("w1", "chart", {"a", "x"}), W("w2", "count", {"y"}), W("w3", "count", {"x"})})),
      "unknown-count");
  EXPECT_NE(detail.find("'x', 'y'"), std::string::npos) << detail;
  EXPECT_EQ(looked_up, (std::vector<std::string>{"a", "x", "y"}));
}

TEST_F(CheckDashboardTest, ChartTypeDependsOnTheWidgetType) {
  auto w = W("w", "chart");
  for (const char* t : {"line", "bar", "area", ""}) {
    w.chart_type = t;
    EXPECT_EQ(Kind(D({w})), "") << t;
  }
  for (const char* t : {"pie", "trend", "Line"}) {
    w.chart_type = t;
    EXPECT_EQ(Kind(D({w})), "validation-error") << t;
  }
  auto a = W("w", "analysis", {"a", "b"});
  for (const char* t : {"trend", "comparison", "prediction", ""}) {
    a.chart_type = t;
    EXPECT_EQ(Kind(D({a})), "") << t;
  }
  a.chart_type = "line";
  EXPECT_EQ(Kind(D({a})), "validation-error");
  a = W("w", "analysis", {"a"});
  a.chart_type = "comparison";
  EXPECT_EQ(Kind(D({a})), "validation-error") << "a comparison needs two counters";
  for (const char* type : {"count", "stat"}) {
    auto o = W("w", type);
    o.chart_type = "line";
    EXPECT_EQ(Kind(D({o})), "validation-error") << type;
  }
}

TEST_F(CheckDashboardTest, PeriodAndUnitDependOnTheWidgetType) {
  auto count = W("w", "count");
  count.period = "1h";
  EXPECT_EQ(Kind(D({count})), "validation-error");
  count = W("w", "count");
  count.unit = "hour";
  EXPECT_EQ(Kind(D({count})), "validation-error");
  auto stat = W("w", "stat");
  stat.period = "1h";
  EXPECT_EQ(Kind(D({stat})), "") << detail;
  stat.unit = "minute";
  EXPECT_EQ(Kind(D({stat})), "validation-error");

  auto chart = W("w", "chart");
  for (const char* p : {"15m", "1h", "24h", "7d", "4w", "400d"}) {
    chart.period = p;
    EXPECT_EQ(Kind(D({chart})), "") << p;
  }
  for (const char* p : {"0h", "h", "1", "1y", "1M", "-1d", "1.5h", "401d", "58w", " 1h"}) {
    chart.period = p;
    EXPECT_EQ(Kind(D({chart})), "validation-error") << p;
  }
  chart.period.clear();
  for (const char* u : {"minute", "hour", "day", "week", "month"}) {
    chart.unit = u;
    EXPECT_EQ(Kind(D({chart})), "") << u;
  }
  chart.unit = "year";
  EXPECT_EQ(Kind(D({chart})), "validation-error");
}

TEST_F(CheckDashboardTest, PeriodByUnitMakesOneToA1440Buckets) {
  auto chart = W("w", "chart");
  const std::vector<std::pair<const char*, const char*>> good = {
      {"24h", "minute"}, {"1h", "hour"}, {"400d", "day"}, {"30d", "month"}, {"1w", "week"}};
  for (const auto& [p, u] : good) {
    chart.period = p;
    chart.unit = u;
    EXPECT_EQ(Kind(D({chart})), "") << p << " by " << u << ": " << detail;
  }
  const std::vector<std::pair<const char*, const char*>> bad = {
      {"1441m", "minute"}, {"2d", "minute"}, {"59m", "hour"}, {"3w", "month"}};
  for (const auto& [p, u] : bad) {
    chart.period = p;
    chart.unit = u;
    EXPECT_EQ(Kind(D({chart})), "validation-error") << p << " by " << u;
  }
}

TEST_F(CheckDashboardTest, TitleIsBounded) {
  auto w = W("w", "count");
  w.title = std::string(200, 't');
  EXPECT_EQ(Kind(D({w})), "");
  w.title += "t";
  EXPECT_EQ(Kind(D({w})), "validation-error");
}

TEST(DashboardWidgetsCodec, RoundTripsAndRejectsCorruptText) {
  const std::vector<Widget> widgets = {
      {"w1", "chart", "Views \"x\" 조", {"a", "b"}, "line", "24h", "hour", {1, 2, 3, 4}}};
  const auto back = DecodeWidgets(EncodeWidgets(widgets));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].title, widgets[0].title);
  EXPECT_EQ(back[0].count_ids, widgets[0].count_ids);
  EXPECT_EQ(back[0].layout.h, 4);
  EXPECT_TRUE(DecodeWidgets("[]").empty());
  EXPECT_THROW(DecodeWidgets("{}"), std::invalid_argument);
  EXPECT_THROW(DecodeWidgets("[1]"), std::invalid_argument);
  EXPECT_THROW(DecodeWidgets("not json"), std::invalid_argument);
}

}  // namespace
}  // namespace count::core
