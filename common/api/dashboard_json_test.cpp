#include "api/dashboard_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace count::api {
namespace {

boost::json::object Obj(std::string_view text) { return boost::json::parse(text).as_object(); }

// The problem detail for `body`, or "" when it reads.
std::string Read(std::string_view body, core::Dashboard* out = nullptr) {
  core::Dashboard d;
  const auto p = ReadDashboard(Obj(body), d);
  if (out) *out = d;
  if (!p) return "";
  EXPECT_EQ(p->outcome, core::Outcome::kValidation);
  return p->detail;
}

TEST(DashboardJson, ReadsWhatItWritesAndIgnoresUnknownMembers) {
  core::Dashboard d;
  ASSERT_EQ(Read(R"({"id":"shop","name":"Shop","createdAt":"x","extra":1,"widgets":[
      {"id":"w1","type":"chart","title":"T","countIds":["a","b"],"chartType":"line",
       "period":"24h","unit":"hour","layout":{"x":1,"y":2,"w":3,"h":4}},
      {"id":"w2","type":"stat","title":null,"countIds":null,"chartType":null,
       "layout":{"x":0,"y":0,"w":1,"h":1}}]})",
                 &d),
            "");
  EXPECT_EQ(d.id, "shop");
  ASSERT_EQ(d.widgets.size(), 2u);
  EXPECT_EQ(d.widgets[0].count_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.widgets[0].layout.h, 4);
  EXPECT_TRUE(d.widgets[1].count_ids.empty());
  EXPECT_EQ(d.widgets[1].chart_type, "");

  const auto json = DashboardJson(d);
  EXPECT_TRUE(json.at("widgets").as_array()[1].as_object().at("chartType").is_null());
  EXPECT_EQ(json.at("createdAt").as_string(), "1970-01-01T00:00:00.000Z");
  d.updated_at = core::Timestamp(std::chrono::milliseconds(1'767'225'600'123));
  EXPECT_EQ(DashboardJson(d).at("version").as_int64(), 1'767'225'600'123);  // updatedAt in ms
  core::Dashboard again;
  ASSERT_EQ(ReadDashboard(json, again), std::nullopt);
  EXPECT_EQ(core::EncodeWidgets(again.widgets), core::EncodeWidgets(d.widgets));
}

TEST(DashboardJson, WidgetsMayBeAbsent) {
  core::Dashboard d;
  EXPECT_EQ(Read(R"({"name":"x"})", &d), "");
  EXPECT_TRUE(d.widgets.empty());
  EXPECT_EQ(d.id, "");
}

TEST(DashboardJson, WrongTypesNameTheField) {
  const std::string layout = R"("layout":{"x":0,"y":0,"w":1,"h":1})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({})", "\"name\""},
      {R"({"name":5})", "\"name\""},
      {R"({"id":5,"name":"x"})", "\"id\""},
      {R"({"name":"x","widgets":{}})", "\"widgets\""},
      {R"({"name":"x","widgets":[5]})", "\"widgets[0]\""},
      {R"({"name":"x","widgets":[{"type":"count",)" + layout + "}]}", "\"widgets[0].id\""},
      {R"({"name":"x","widgets":[{"id":"w","type":1,)" + layout + "}]}", "\"widgets[0].type\""},
      {R"({"name":"x","widgets":[{"id":"w","type":"count","title":2,)" + layout + "}]}",
       "\"widgets[0].title\""},
      {R"({"name":"x","widgets":[{"id":"w","type":"count","countIds":"a",)" + layout + "}]}",
       "\"widgets[0].countIds\""},
      {R"({"name":"x","widgets":[{"id":"w","type":"count","countIds":[1],)" + layout + "}]}",
       "\"widgets[0].countIds\""},
      {R"({"name":"x","widgets":[{"id":"w","type":"count","unit":7,)" + layout + "}]}",
       "\"widgets[0].unit\""},
      {R"({"name":"x","widgets":[{"id":"w","type":"count"}]})", "\"widgets[0].layout\""},
      {R"({"name":"x","widgets":[{"id":"w","type":"count","layout":{"x":0,"y":0,"w":1}}]})",
       "\"widgets[0].layout.h\""},
      {R"({"name":"x","widgets":[{"id":"w","type":"count","layout":{"x":0,"y":0,"w":1.5,"h":1}}]})",
       "\"widgets[0].layout.w\""},
      {R"({"name":"x","widgets":[{"id":"w","type":"count","layout":{"x":4294967296,"y":0,"w":1,"h":1}}]})",
       "\"widgets[0].layout.x\""},
  };
  for (const auto& [body, field] : cases)
    EXPECT_NE(Read(body).find(field), std::string::npos) << body << " -> " << Read(body);
}

TEST(DashboardJson, TooManyWidgetsAreRefusedBeforeReading) {
  std::string body = R"({"name":"x","widgets":[)";
  for (std::size_t i = 0; i <= core::kMaxWidgets; ++i) body += (i ? ",5" : "5");
  body += "]}";
  EXPECT_NE(Read(body).find("at most"), std::string::npos);
}

}  // namespace
}  // namespace count::api
