// DashboardApi through the router on SQLite: CRUD, the rules' problems, the summary.
#include "dashboard_api.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <limits>
#include <map>

#include "sqlite/sqlite_dashboard_store.hpp"
#include "sqlite/sqlite_stores.hpp"
#include "testing/process.hpp"

namespace count::dashboard {
namespace {

namespace json = boost::json;

constexpr std::string_view kBase = "/dashboard/api/v1/dashboards";

std::string Body(std::string_view id, std::string_view name, std::string_view count_id = "a") {
  return std::string(R"({"id":")") + std::string(id) + R"(","name":")" + std::string(name) +
         R"(","widgets":[{"id":"w1","type":"count","countIds":[")" + std::string(count_id) +
         R"("],"layout":{"x":0,"y":0,"w":4,"h":2}}]})";
}

const http::Principal kAdmin{"admin", {"admin"}}, kReader{"reader", {"count:read"}};

class DashboardApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.SetAuthenticator([](std::string_view token) -> const http::Principal* {
      if (token == "admin") return &kAdmin;
      if (token == "reader") return &kReader;
      return nullptr;
    });
    api.Register(router);
    for (const char* id : {"a", "b"}) Counter(id, 0);
  }

  void Counter(const std::string& id, std::int64_t value) {
    const auto now = core::Now();
    core::CountInfo info{id, "", std::nullopt, std::nullopt, now, now};
    ASSERT_TRUE(info_store.Create(info));
    ASSERT_TRUE(values.Create(info, value));
  }

  http::Response Send(http::Method method, std::string target, std::string body = {},
                      std::string token = "admin", std::string if_match = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    EXPECT_TRUE(http::ParseTarget(target, r.path, r.query));
    r.body = std::move(body);
    r.headers = {{"Authorization", "Bearer " + token}};
    if (!r.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    if (!if_match.empty()) r.headers.emplace_back("If-Match", if_match);
    return router.Dispatch(r);
  }
  static json::object Json(const http::Response& r) { return json::parse(r.body).as_object(); }
  static std::string Type(const http::Response& r) {
    return std::string(Json(r).at("type").as_string());
  }

  testing::TempDir dir;
  sqlite::SqliteDatabase db{dir.path() / "count.db"};
  sqlite::SqliteCountInfoStore info_store{db};
  sqlite::SqliteCountValueStore values{db, "test"};
  sqlite::SqliteDashboardStore dashboards{db};
  DashboardApi api{dashboards, info_store, values};
  http::Router router;
};

TEST_F(DashboardApiTest, CreateGetListPutDelete) {
  auto created = Send(http::Method::kPost, std::string(kBase), Body("shop", "Shop"));
  ASSERT_EQ(created.status, 201) << created.body;
  const auto c = Json(created);
  EXPECT_EQ(c.at("createdAt"), c.at("updatedAt"));
  EXPECT_EQ(c.at("widgets").as_array()[0].as_object().at("chartType"), nullptr);

  auto got = Send(http::Method::kGet, std::string(kBase) + "/shop");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Json(got), c);
  EXPECT_EQ(Json(Send(http::Method::kGet, std::string(kBase))).at("items").as_array().size(), 1u);

  auto put = Send(http::Method::kPut, std::string(kBase) + "/shop", Body("shop", "Renamed", "b"));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Json(put).at("name"), "Renamed");
  EXPECT_EQ(Json(put).at("createdAt"), c.at("createdAt"));
  EXPECT_EQ(Json(Send(http::Method::kGet, std::string(kBase) + "/shop")), Json(put));

  EXPECT_EQ(Send(http::Method::kDelete, std::string(kBase) + "/shop").status, 204);
  EXPECT_EQ(Send(http::Method::kDelete, std::string(kBase) + "/shop").status, 404);
  EXPECT_EQ(Send(http::Method::kGet, std::string(kBase) + "/shop").status, 404);
}

std::string ETag(const http::Response& r) {
  for (const auto& [name, value] : r.headers)
    if (name == "ETag") return value;
  return {};
}

// Two editors load version v; the first save moves it on, the second (If-Match v) gets 409
// and changes nothing; a save without If-Match still replaces (API clients of before).
TEST_F(DashboardApiTest, StaleSaveIsRefusedWithEditConflict) {
  auto created = Send(http::Method::kPost, std::string(kBase), Body("shop", "Shop"));
  ASSERT_EQ(created.status, 201);
  const std::string v1 = ETag(created);
  EXPECT_EQ(v1, "\"" + std::to_string(Json(created).at("version").as_int64()) + "\"");
  EXPECT_EQ(ETag(Send(http::Method::kGet, std::string(kBase) + "/shop")), v1);

  const std::string path = std::string(kBase) + "/shop";
  auto first = Send(http::Method::kPut, path, Body("shop", "First"), "admin", v1);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string v2 = ETag(first);
  EXPECT_NE(v2, v1);
  EXPECT_GT(Json(first).at("version").as_int64(), Json(created).at("version").as_int64());

  auto second = Send(http::Method::kPut, path, Body("shop", "Second"), "admin", v1);
  EXPECT_EQ(second.status, 409);
  EXPECT_EQ(Type(second), "/problems/edit-conflict");
  EXPECT_NE(Json(second).at("detail").as_string().find("saved by someone else"), std::string::npos);
  EXPECT_EQ(Json(Send(http::Method::kGet, path)).at("name"), "First");

  EXPECT_EQ(Send(http::Method::kPut, path, Body("shop", "Weak"), "admin", "W/" + v2).status, 200);
  EXPECT_EQ(Send(http::Method::kPut, path, Body("shop", "Any"), "admin", "*").status, 200);
  EXPECT_EQ(Send(http::Method::kPut, path, Body("shop", "None")).status, 200);
  for (const char* bad : {"12", "\"x\"", "\"\"", "\"1\", \"2\""}) {
    auto r = Send(http::Method::kPut, path, Body("shop", "Bad"), "admin", bad);
    EXPECT_EQ(r.status, 400) << bad;
  }
  EXPECT_EQ(Json(Send(http::Method::kGet, path)).at("name"), "None");
  EXPECT_EQ(
      Send(http::Method::kPut, std::string(kBase) + "/gone", Body("gone", "G"), "admin", v1).status,
      404);
}

TEST_F(DashboardApiTest, WithoutAnIdTheServerNamesIt) {
  auto created = Send(http::Method::kPost, std::string(kBase), R"({"name":"n"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id(Json(created).at("id").as_string());
  EXPECT_TRUE(core::IsValidCountId(id)) << id;
  EXPECT_EQ(Send(http::Method::kGet, std::string(kBase) + "/" + id).status, 200);
}

TEST_F(DashboardApiTest, Problems) {
  ASSERT_EQ(Send(http::Method::kPost, std::string(kBase), Body("shop", "Shop")).status, 201);
  auto dup = Send(http::Method::kPost, std::string(kBase), Body("shop", "Other"));
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(Type(dup), "/problems/already-exists");
  auto unknown = Send(http::Method::kPost, std::string(kBase), Body("x", "X", "nope"));
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(Type(unknown), "/problems/unknown-count");
  EXPECT_NE(Json(unknown).at("detail").as_string().find("'nope'"), std::string::npos);
  EXPECT_EQ(Type(Send(http::Method::kPost, std::string(kBase), Body("-x", "X"))),
            "/problems/invalid-dashboard-id");
  EXPECT_EQ(Type(Send(http::Method::kGet, std::string(kBase) + "/-x")),
            "/problems/invalid-dashboard-id");
  auto mismatch = Send(http::Method::kPut, std::string(kBase) + "/shop", Body("other", "X"));
  EXPECT_EQ(mismatch.status, 422);
  EXPECT_EQ(Send(http::Method::kPut, std::string(kBase) + "/none", Body("none", "X")).status, 404);
  EXPECT_EQ(Send(http::Method::kPost, std::string(kBase), "{").status, 400);
  EXPECT_EQ(Send(http::Method::kGet, std::string(kBase), "", "reader").status, 403);
  EXPECT_EQ(Send(http::Method::kGet, std::string(kBase), "", "bad").status, 401);
}

TEST_F(DashboardApiTest, SummaryOverEveryCounter) {
  ASSERT_EQ(Send(http::Method::kPost, std::string(kBase), Body("shop", "Shop")).status, 201);
  Counter("c", 7);
  Counter("d", -1);
  auto r = Send(http::Method::kGet, "/dashboard/api/v1/summary");
  ASSERT_EQ(r.status, 200);
  const auto s = Json(r);
  EXPECT_EQ(s.at("totalCounters"), 4);
  EXPECT_EQ(s.at("totalValue"), 6);
  EXPECT_DOUBLE_EQ(s.at("averageValue").as_double(), 1.5);
  EXPECT_EQ(s.at("totalDashboards"), 1);
  EXPECT_TRUE(s.at("lastUpdatedAt").is_string());
}

TEST_F(DashboardApiTest, SummaryOfNothingAndBeyondInt64) {
  sqlite::SqliteDatabase empty_db{dir.path() / "empty.db"};
  sqlite::SqliteCountInfoStore no_info{empty_db};
  sqlite::SqliteCountValueStore no_values{empty_db, "test"};
  const Summary none = Summarize(no_info, no_values);
  EXPECT_EQ(none.total_counters, 0u);
  EXPECT_FALSE(none.last_updated_at);

  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  Counter("m1", kMax);
  Counter("m2", kMax);
  const Summary s = Summarize(info_store, values, 1);  // one counter per page
  EXPECT_EQ(s.total_counters, 4u);
  EXPECT_EQ(s.counters_with_value, 4u);
  EXPECT_TRUE(s.total_value == static_cast<__int128>(kMax) * 2);
  const auto body = Json(Send(http::Method::kGet, "/dashboard/api/v1/summary"));
  EXPECT_TRUE(body.at("totalValue").is_double());
  EXPECT_DOUBLE_EQ(body.at("averageValue").as_double(), static_cast<double>(kMax) / 2);
}

// A ResultCache in memory that never expires: enough to see what the API asks of it.
struct MemoryCache final : core::ResultCache {
  std::map<std::string, std::string, std::less<>> entries;
  std::optional<std::string> Get(std::string_view key) override {
    auto it = entries.find(key);
    if (it == entries.end()) return std::nullopt;
    return it->second;
  }
  void Put(std::string_view key, std::string_view value, std::chrono::milliseconds) override {
    entries[std::string(key)] = std::string(value);
  }
};

TEST_F(DashboardApiTest, SummaryIsServedFromTheCacheWithinItsTimeToLive) {
  MemoryCache cache;
  DashboardApi cached{dashboards, info_store, values, {&cache, std::chrono::seconds(1)}};
  http::Router cached_router;
  cached_router.SetAuthenticator([](std::string_view) { return &kAdmin; });
  cached.Register(cached_router);
  const auto summary = [&] {
    http::Request r;
    r.method = http::Method::kGet;
    r.target = r.path = "/dashboard/api/v1/summary";
    r.headers = {{"Authorization", "Bearer admin"}};
    return Json(cached_router.Dispatch(r)).at("totalCounters").as_int64();
  };
  EXPECT_EQ(summary(), 2);
  ASSERT_EQ(cache.entries.size(), 1u);
  Counter("c", 1);
  EXPECT_EQ(summary(), 2) << "served from the cache";
  cache.entries.clear();  // expired
  EXPECT_EQ(summary(), 3);
}

}  // namespace
}  // namespace count::dashboard
