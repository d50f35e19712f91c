#include "http/router.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace count::http {
namespace {

Request Make(Method m, std::string target, std::string body = {}, Fields headers = {}) {
  Request r;
  r.method = m;
  r.target = target;
  EXPECT_TRUE(ParseTarget(target, r.path, r.query));
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.SetAuthenticator([](std::string_view token) -> const Principal* {
      static const Principal writer{"writer", {"count:write"}}, admin{"admin", {"admin"}};
      if (token == "w") return &writer;
      if (token == "a") return &admin;
      return nullptr;
    });
    router.Add(Method::kPost, "/api/v1/counts/{id}/increment",
               [](Request& r) { return Response::Json(200, std::string(r.Param("id"))); },
               {.scope = "count:write"});
    router.Add(Method::kGet, "/api/v1/counts/{id}",
               [](Request& r) { return Response::Json(200, "get"); }, {.scope = "count:read"});
    router.Add(Method::kPost, "/api/v1/counts:batch",
               [](Request&) { return Response::Json(200, "b"); },
               {.scope = "count:write", .body_limit = 1 << 20});
    router.Add(Method::kGet, "/health",
               [](Request&) -> Response { throw std::runtime_error("x"); });
  }
  Router router;
};

TEST_F(RouterTest, MatchesPathParameters) {
  auto r = Make(Method::kPost, "/api/v1/counts/page.views/increment", "",
                {{"Authorization", "Bearer w"}});
  auto res = router.Dispatch(r);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "page.views");
  EXPECT_EQ(r.route, "/api/v1/counts/{id}/increment");
}

// A connection's requests after the first that present the same key reuse its principal; any
// other key is checked again, and an invalid one is refused whatever the connection knows.
TEST(Router, AConnectionsKnownKeyIsCheckedOnce) {
  Router router;
  int checks = 0;
  router.SetAuthenticator([&checks](std::string_view token) -> const Principal* {
    static const Principal reader{"reader", {"count:read"}}, admin{"admin", {"admin"}};
    ++checks;
    if (token == "r") return &reader;
    if (token == "a") return &admin;
    return nullptr;
  });
  router.Add(Method::kGet, "/x", [](Request& r) { return Response::Json(200, r.principal->name); },
             {.scope = "count:read"});
  KnownKey known;
  const auto get = [&](std::string key) {
    auto r = Make(Method::kGet, "/x", "", {{"Authorization", "Bearer " + key}});
    r.known_key = &known;
    return router.Dispatch(r);
  };
  EXPECT_EQ(get("r").body, "reader");
  EXPECT_EQ(get("r").body, "reader");
  EXPECT_EQ(checks, 1);
  EXPECT_EQ(get("rr").status, 401);
  EXPECT_EQ(get("").status, 401);
  EXPECT_EQ(get("a").body, "admin");
  EXPECT_EQ(get("r").body, "reader");
  EXPECT_EQ(checks, 4);
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST_F(RouterTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto r = Make(Method::kGet, "/nope");
  EXPECT_EQ(router.Dispatch(r).status, 404);
  auto m = Make(Method::kDelete, "/api/v1/counts/x/increment");
  auto res = router.Dispatch(m);
  EXPECT_EQ(res.status, 405);
  ASSERT_FALSE(res.headers.empty());
  EXPECT_EQ(res.headers[0].second, "POST");
}

TEST_F(RouterTest, AuthOrder401Then403) {
  auto none = Make(Method::kPost, "/api/v1/counts/x/increment");
  auto res = router.Dispatch(none);
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(res.content_type, "application/problem+json");
  auto bad =
      Make(Method::kPost, "/api/v1/counts/x/increment", "", {{"authorization", "Bearer zz"}});
  EXPECT_EQ(router.Dispatch(bad).status, 401);
  auto wrong = Make(Method::kGet, "/api/v1/counts/x", "", {{"Authorization", "Bearer w"}});
  EXPECT_EQ(router.Dispatch(wrong).status, 403);
  auto admin = Make(Method::kGet, "/api/v1/counts/x", "", {{"Authorization", "Bearer a"}});
  EXPECT_EQ(router.Dispatch(admin).status, 200);
}

TEST_F(RouterTest, RejectsOtherContentTypes) {
  auto r = Make(Method::kPost, "/api/v1/counts/x/increment", "{}",
                {{"Authorization", "Bearer w"}, {"Content-Type", "text/plain"}});
  EXPECT_EQ(router.Dispatch(r).status, 415);
  auto ok =
      Make(Method::kPost, "/api/v1/counts/x/increment", "{}",
           {{"Authorization", "Bearer w"}, {"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_EQ(router.Dispatch(ok).status, 200);
}

TEST_F(RouterTest, BodyLimitPerRoute) {
  EXPECT_EQ(router.BodyLimit(Method::kPost, "/api/v1/counts:batch"), 1u << 20);
  EXPECT_EQ(router.BodyLimit(Method::kPost, "/api/v1/counts/x/increment"), kDefaultBodyLimit);
  EXPECT_EQ(router.BodyLimit(Method::kPost, "/unknown"), kDefaultBodyLimit);
}

TEST_F(RouterTest, HandlerExceptionBecomes500Problem) {
  auto r = Make(Method::kGet, "/health");
  auto res = router.Dispatch(r);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(r.error, "x");
}

TEST(ParseTarget, DecodesAndRejectsMalformedEscapes) {
  std::string path;
  Fields q;
  ASSERT_TRUE(ParseTarget("/a%20b?ids=a,b&x=1+2", path, q));
  EXPECT_EQ(path, "/a b");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].second, "a,b");
  EXPECT_EQ(q[1].second, "1 2");
  EXPECT_FALSE(ParseTarget("/a%2", path, q));
  EXPECT_FALSE(ParseTarget("/a%zz", path, q));
  EXPECT_FALSE(ParseTarget("/a%00", path, q));
  EXPECT_FALSE(ParseTarget("relative", path, q));
}

// Regression (found by fuzz/query_fuzzer): a problem quoting a path with invalid UTF-8
// ("no route for /ma\x93agement") was not valid JSON.
TEST(Problem, QuotesRequestsAsValidUtf8) {
  const auto r =
      Response::Problem(core::NotFound("no route for /ma\x93"
                                       "agement"));
  boost::system::error_code ec;
  const auto body = boost::json::parse(r.body, ec);
  ASSERT_FALSE(ec) << r.body;
  EXPECT_EQ(body.at("detail").as_string(),
            "no route for /ma\uFFFD"
            "agement");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(ValidUtf8("a\xE2\x82\xAC\xF0\x9F\x98\x80z"), "a\xE2\x82\xAC\xF0\x9F\x98\x80z");
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), fffd + fffd);                        // overlong
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), fffd + fffd + fffd);             // a surrogate
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // beyond U+10FFFF
  EXPECT_EQ(ValidUtf8("x\xE2\x82"), "x" + fffd + fffd);                 // cut short
}

}  // namespace
}  // namespace count::http
