// AnalysisApi through the router on SQLite: known points in, hand-computed figures out.
#include "analysis_api.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "sqlite/sqlite_history_store.hpp"
#include "testing/process.hpp"

namespace count::analysis {
namespace {

namespace json = boost::json;

// Counter "a" by day (imported points carry no delta, so every sum is 0):
//   03-01: 100 at 10:00, 110 at 20:00 → last 110, min 100, max 110
//   03-02: 120   03-03: 130   03-04: 140
// Counter "b": 50 on 03-01 and on 03-04.
constexpr std::string_view kJsonPoints = R"({"points":[
  {"countId":"a","timestamp":"2024-03-01T10:00:00Z","value":100},
  {"countId":"a","timestamp":"2024-03-01T20:00:00Z","value":110},
  {"countId":"a","timestamp":"2024-03-02T10:00:00Z","value":120},
  {"countId":"a","timestamp":"2024-03-03T10:00:00Z","value":130},
  {"countId":"a","timestamp":"2024-03-04T10:00:00Z","value":140},
  {"countId":"b","timestamp":"2024-03-01T12:00:00Z","value":50},
  {"countId":"b","timestamp":"2024-03-04T12:00:00Z","value":50}]})";
// Counter "c": 0 on 03-02, -20 on 03-03.
constexpr std::string_view kCsvPoints =
    "countId,timestamp,value\r\n"
    "c,2024-03-02T00:00:00Z,0\r\n"
    "\"c\",\"2024-03-03T00:00:00.000Z\",-20\r\n";
constexpr std::string_view kPeriod = R"("from":"2024-03-01T00:00:00Z","to":"2024-03-05T00:00:00Z")";

class AnalysisApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.SetAuthenticator([](std::string_view token) -> const http::Principal* {
      static const http::Principal admin{"admin", {"admin"}}, reader{"reader", {"count:read"}};
      if (token == "admin") return &admin;
      if (token == "reader") return &reader;
      return nullptr;
    });
    api.Register(router);
  }

  http::Response Send(http::Method method, std::string target, std::string body = {},
                      std::string content_type = "application/json",
                      std::string accept = "application/json", std::string token = "admin") {
    http::Request r;
    r.method = method;
    r.target = target;
    EXPECT_TRUE(http::ParseTarget(target, r.path, r.query));
    r.body = std::move(body);
    r.headers = {{"Authorization", "Bearer " + token}, {"Accept", accept}};
    if (!r.body.empty()) r.headers.emplace_back("Content-Type", content_type);
    return router.Dispatch(r);
  }
  http::Response Post(std::string_view what, std::string body) {
    return Send(http::Method::kPost, "/analysis/api/v1/" + std::string(what), std::move(body));
  }
  json::object Ok(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    auto v = json::parse(r.body);
    return v.is_object() ? v.as_object() : json::object{};
  }
  void ExpectProblem(const http::Response& r, int status, std::string_view type) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(json::parse(r.body).at("type").as_string(), type) << r.body;
  }
  void ImportAll() {
    EXPECT_EQ(json::serialize(Ok(Post("history:import", std::string(kJsonPoints)))),
              R"({"imported":7,"skipped":0})");
    EXPECT_EQ(json::serialize(Ok(Send(http::Method::kPost, "/analysis/api/v1/history:import",
                                      std::string(kCsvPoints), "text/csv"))),
              R"({"imported":2,"skipped":0})");
  }
  std::string Body(std::string ids, std::string_view extra = "") {
    return "{\"countIds\":" + ids + "," + std::string(kPeriod) + ",\"unit\":\"day\"" +
           std::string(extra) + "}";
  }

  count::testing::TempDir dir;
  sqlite::SqliteDatabase db{dir.path() / "count.db"};
  sqlite::SqliteHistoryStore history{db};
  AnalysisApi api{history};
  http::Router router;
};

double Num(const json::value& v) { return v.to_number<double>(); }

TEST_F(AnalysisApiTest, SeriesAsJsonAndCsv) {
  ImportAll();
  const std::string target =
      "/analysis/api/v1/series?ids=a,c&from=2024-03-01T00:00:00Z&to=2024-03-05T00:00:00Z&unit=day";
  const auto body = Ok(Send(http::Method::kGet, target));
  EXPECT_EQ(json::serialize(body),
            R"({"series":[{"countId":"a","buckets":[)"
            R"({"t":"2024-03-01T00:00:00.000Z","last":110,"sum":0,"min":100,"max":110},)"
            R"({"t":"2024-03-02T00:00:00.000Z","last":120,"sum":0,"min":120,"max":120},)"
            R"({"t":"2024-03-03T00:00:00.000Z","last":130,"sum":0,"min":130,"max":130},)"
            R"({"t":"2024-03-04T00:00:00.000Z","last":140,"sum":0,"min":140,"max":140}]},)"
            R"({"countId":"c","buckets":[)"
            R"({"t":"2024-03-02T00:00:00.000Z","last":0,"sum":0,"min":0,"max":0},)"
            R"({"t":"2024-03-03T00:00:00.000Z","last":-20,"sum":0,"min":-20,"max":-20}]}]})");
  const auto csv = Send(http::Method::kGet, target, "", "", "text/csv");
  EXPECT_EQ(csv.status, 200);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body,
            "countId,t,last,sum,min,max\n"
            "a,2024-03-01T00:00:00.000Z,110,0,100,110\n"
            "a,2024-03-02T00:00:00.000Z,120,0,120,120\n"
            "a,2024-03-03T00:00:00.000Z,130,0,130,130\n"
            "a,2024-03-04T00:00:00.000Z,140,0,140,140\n"
            "c,2024-03-02T00:00:00.000Z,0,0,0,0\n"
            "c,2024-03-03T00:00:00.000Z,-20,0,-20,-20\n");
}

TEST_F(AnalysisApiTest, ReimportChangesNothing) {
  ImportAll();
  const std::string target =
      "/analysis/api/v1/series?ids=a,b,c&from=2024-03-01T00:00:00Z&to=2024-03-05T00:00:00Z"
      "&unit=minute";
  const auto before = Send(http::Method::kGet, target).body;
  EXPECT_EQ(json::serialize(Ok(Post("history:import", std::string(kJsonPoints)))),
            R"({"imported":0,"skipped":7})");
  EXPECT_EQ(json::serialize(Ok(Send(http::Method::kPost, "/analysis/api/v1/history:import",
                                    std::string(kCsvPoints), "text/csv"))),
            R"({"imported":0,"skipped":2})");
  EXPECT_EQ(Send(http::Method::kGet, target).body, before);
}

TEST_F(AnalysisApiTest, Trend) {
  ImportAll();
  const auto results = Ok(Post("trend", Body(R"(["a","b","c"])"))).at("results").as_array();
  ASSERT_EQ(results.size(), 3u);
  // a: 110, 120, 130, 140 → min 110, max 140, avg 125, change 30 = 27.27% of 110, increasing.
  const auto& a = results[0].as_object();
  EXPECT_EQ(a.at("countId"), "a");
  EXPECT_EQ(a.at("min"), 110);
  EXPECT_EQ(a.at("max"), 140);
  EXPECT_DOUBLE_EQ(Num(a.at("avg")), 125);
  EXPECT_EQ(a.at("change"), 30);
  EXPECT_NEAR(Num(a.at("changeRate")), 30.0 / 110 * 100, 1e-9);
  EXPECT_EQ(a.at("classification"), "increasing");
  EXPECT_EQ(json::serialize(a.at("points").as_array()[0]),
            R"({"t":"2024-03-01T00:00:00.000Z","value":110})");
  EXPECT_EQ(a.at("points").as_array().size(), 4u);
  // b: 50, 50 → stable, change 0 = 0%.
  const auto& b = results[1].as_object();
  EXPECT_EQ(b.at("classification"), "stable");
  EXPECT_EQ(b.at("change"), 0);
  EXPECT_DOUBLE_EQ(Num(b.at("changeRate")), 0);
  // c: 0, -20 → change -20, no rate of a first value 0, decreasing.
  const auto& c = results[2].as_object();
  EXPECT_EQ(c.at("change"), -20);
  EXPECT_TRUE(c.at("changeRate").is_null());
  EXPECT_EQ(c.at("classification"), "decreasing");
}

TEST_F(AnalysisApiTest, Comparison) {
  ImportAll();
  // Last values a 140, b 50, c -20: max 140, min -20, avg 170 / 3.
  const auto body = Ok(Post("comparison", Body(R"(["a","b","c"])")));
  EXPECT_EQ(body.at("max"), 140);
  EXPECT_EQ(body.at("min"), -20);
  const double avg = 170.0 / 3;
  EXPECT_NEAR(Num(body.at("avg")), avg, 1e-9);
  const auto& results = body.at("results").as_array();
  const double expected[3][4] = {
      {140, 1, -7, 140 / avg}, {50, 50.0 / 140, -2.5, 50 / avg}, {-20, -20.0 / 140, 1, -20 / avg}};
  for (int i = 0; i < 3; ++i) {
    const auto& r = results[i].as_object();
    EXPECT_EQ(r.at("value").as_int64(), expected[i][0]);
    EXPECT_NEAR(Num(r.at("relativeToMax")), expected[i][1], 1e-9);
    EXPECT_NEAR(Num(r.at("relativeToMin")), expected[i][2], 1e-9);
    EXPECT_NEAR(Num(r.at("relativeToAvg")), expected[i][3], 1e-9);
  }
}

TEST_F(AnalysisApiTest, ComparisonIsSafeWithZero) {
  ImportAll();
  // Over 03-02 alone: a 120, c 0 → min 0, so no ratio to it.
  const auto body = Ok(Post("comparison", R"({"countIds":["a","c"],"from":"2024-03-02T00:00:00Z",)"
                                          R"("to":"2024-03-03T00:00:00Z"})"));
  EXPECT_EQ(body.at("min"), 0);
  for (const auto& r : body.at("results").as_array())
    EXPECT_TRUE(r.as_object().at("relativeToMin").is_null());
  EXPECT_NEAR(Num(body.at("results").as_array()[1].at("relativeToMax")), 0, 1e-12);
}

TEST_F(AnalysisApiTest, Prediction) {
  ImportAll();
  // a: 110..140 daily → slope 10/day, R² 1; 03-05 → 150, 03-06 → 160. b: flat 50.
  const auto results =
      Ok(Post("prediction", Body(R"(["a","b"])", R"(,"horizon":2)"))).at("results").as_array();
  const auto& a = results[0].as_object();
  EXPECT_NEAR(Num(a.at("slopePerDay")), 10, 1e-9);
  EXPECT_NEAR(Num(a.at("confidence")), 1, 1e-12);
  const auto& points = a.at("points").as_array();
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].at("t"), "2024-03-05T00:00:00.000Z");
  EXPECT_NEAR(Num(points[0].at("value")), 150, 1e-9);
  EXPECT_EQ(points[1].at("t"), "2024-03-06T00:00:00.000Z");
  EXPECT_NEAR(Num(points[1].at("value")), 160, 1e-9);
  const auto& b = results[1].as_object();
  EXPECT_EQ(Num(b.at("slopePerDay")), 0);
  EXPECT_EQ(Num(b.at("confidence")), 1);
  EXPECT_EQ(Num(b.at("points").as_array()[1].at("value")), 50);
  // Without a horizon: 10 buckets ahead.
  EXPECT_EQ(Ok(Post("prediction", Body(R"(["a"])")))
                .at("results")
                .as_array()[0]
                .at("points")
                .as_array()
                .size(),
            10u);
}

TEST_F(AnalysisApiTest, InvalidPeriods) {
  ImportAll();
  const auto with = [&](std::string_view period) {
    return Post("trend", "{\"countIds\":[\"a\"]," + std::string(period) + "}");
  };
  ExpectProblem(with(R"("from":"2024-03-05T00:00:00Z","to":"2024-03-01T00:00:00Z")"), 422,
                "/problems/invalid-period");
  ExpectProblem(with(R"("from":"2024-03-01T00:00:00Z","to":"2024-03-01T00:00:00Z")"), 422,
                "/problems/invalid-period");
  ExpectProblem(with(R"("from":"yesterday","to":"2024-03-01T00:00:00Z")"), 422,
                "/problems/invalid-period");
  ExpectProblem(with(R"("to":"2024-03-01T00:00:00Z")"), 422, "/problems/invalid-period");
  ExpectProblem(with(R"("from":1,"to":"2024-03-01T00:00:00Z")"), 422, "/problems/invalid-period");
  // 400 days of minutes is too long; of days it is fine.
  ExpectProblem(
      with(R"("from":"2023-01-01T00:00:00Z","to":"2024-02-05T00:00:00Z","unit":"minute")"), 422,
      "/problems/invalid-period");
  EXPECT_EQ(
      with(R"("from":"2023-01-01T00:00:00Z","to":"2024-03-05T00:00:00Z","unit":"day")").status,
      200);
  ExpectProblem(Send(http::Method::kGet, "/analysis/api/v1/series?ids=a&from=x&to=y"), 422,
                "/problems/invalid-period");
}

TEST_F(AnalysisApiTest, InsufficientData) {
  ImportAll();
  // One bucket of a on 03-02: no trend, no prediction; nothing for z at all.
  const std::string one_day = R"("from":"2024-03-02T00:00:00Z","to":"2024-03-03T00:00:00Z")";
  ExpectProblem(Post("trend", "{\"countIds\":[\"a\"]," + one_day + ",\"unit\":\"day\"}"), 422,
                "/problems/insufficient-data");
  ExpectProblem(Post("prediction", "{\"countIds\":[\"a\"]," + one_day + ",\"unit\":\"day\"}"), 422,
                "/problems/insufficient-data");
  ExpectProblem(Post("comparison", Body(R"(["a","z"])")), 422, "/problems/insufficient-data");
}

TEST_F(AnalysisApiTest, RequestValidation) {
  ExpectProblem(Post("comparison", Body(R"(["a"])")), 422, "/problems/validation-error");
  ExpectProblem(Post("trend", Body(R"([])")), 422, "/problems/validation-error");
  ExpectProblem(Post("trend", Body(R"(["a","a"])")), 422, "/problems/validation-error");
  ExpectProblem(Post("trend", Body(R"(["bad id"])")), 422, "/problems/invalid-count-id");
  std::string many = "[";
  for (int i = 0; i < 51; ++i) many.append(i ? "," : "").append("\"c" + std::to_string(i) + "\"");
  ExpectProblem(Post("trend", Body(many + "]")), 422, "/problems/validation-error");
  ExpectProblem(Post("trend", Body(R"(["a"])", R"(,"unit":"year")")), 422,
                "/problems/validation-error");
  ExpectProblem(Post("prediction", Body(R"(["a"])", R"(,"horizon":0)")), 422,
                "/problems/validation-error");
  // Three counters × 366 days of minutes = 1,581,120 buckets: more than one answer holds.
  ExpectProblem(Post("trend", R"({"countIds":["a","b","c"],"from":"2024-01-01T00:00:00Z",)"
                              R"("to":"2025-01-01T00:00:00Z","unit":"minute"})"),
                422, "/problems/validation-error");
  ExpectProblem(Post("trend", "{"), 400, "/problems/malformed-json");
  ExpectProblem(Send(http::Method::kGet, "/analysis/api/v1/series?from=2024-03-01T00:00:00Z"), 422,
                "/problems/validation-error");
  ExpectProblem(
      Send(http::Method::kGet,
           "/analysis/api/v1/series?ids=a,,b&from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z"),
      422, "/problems/invalid-count-id");
}

TEST_F(AnalysisApiTest, ImportRejectsEveryRowIfOneIsBad) {
  const std::string csv =
      "countId,timestamp,value\n"
      "a,2024-03-01T00:00:00Z,1\n"
      "a,2024-03-01T00:01:00Z,not-a-number\n";
  const auto r = Send(http::Method::kPost, "/analysis/api/v1/history:import", csv, "text/csv");
  ExpectProblem(r, 422, "/problems/validation-error");
  EXPECT_NE(r.body.find("line 3"), std::string::npos) << r.body;
  EXPECT_FALSE(history.Latest("a"));

  ExpectProblem(Send(http::Method::kPost, "/analysis/api/v1/history:import",
                     "id,time,value\na,2024-03-01T00:00:00Z,1\n", "text/csv"),
                422, "/problems/validation-error");
  const auto bad_id = Send(
      http::Method::kPost, "/analysis/api/v1/history:import",
      "countId,timestamp,value\na,2024-03-01T00:00:00Z,1\n-x,2024-03-01T00:00:00Z,1\n", "text/csv");
  ExpectProblem(bad_id, 422, "/problems/invalid-count-id");
  EXPECT_NE(bad_id.body.find("line 3"), std::string::npos);
  const auto bad_json =
      Post("history:import",
           R"({"points":[{"countId":"a","timestamp":"2024-03-01T00:00:00Z","value":1},)"
           R"({"countId":"a","timestamp":"2024-03-01T00:00:00Z","value":1.5}]})");
  ExpectProblem(bad_json, 422, "/problems/validation-error");
  EXPECT_NE(bad_json.body.find("points[1]"), std::string::npos);
  EXPECT_FALSE(history.Latest("a"));
  ExpectProblem(Send(http::Method::kPost, "/analysis/api/v1/history:import", "a,b", "text/plain"),
                415, "/problems/unsupported-media-type");
}

TEST_F(AnalysisApiTest, NeedsTheAdminScope) {
  const std::string target =
      "/analysis/api/v1/series?ids=a&from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z";
  ExpectProblem(Send(http::Method::kGet, target, "", "", "", "nope"), 401,
                "/problems/unauthorized");
  ExpectProblem(Send(http::Method::kGet, target, "", "", "", "reader"), 403, "/problems/forbidden");
}

}  // namespace
}  // namespace count::analysis
