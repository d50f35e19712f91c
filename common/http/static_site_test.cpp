#include "http/static_site.hpp"

#include <gtest/gtest.h>

#include <array>

namespace count::http {
namespace {

std::optional<std::string> HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (IEquals(k, name)) return v;
  return std::nullopt;
}

class StaticSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.Add(Method::kGet, "/management/api/v1/counts",
               [](Request&) { return Response::Json(200, "[]"); }, {.scope = "admin"});
    ServeStaticSite(router, "/management", kFiles);
  }
  Response Get(std::string target, Fields headers = {}, Method m = Method::kGet) {
    Request r;
    r.method = m;
    r.target = target;
    EXPECT_TRUE(ParseTarget(target, r.path, r.query));
    r.headers = std::move(headers);
    return router.Dispatch(r);
  }
  static constexpr std::array<EmbeddedFile, 2> kFiles{{
      {"index.html", "<html><head><title>x</title></head></html>"},
      {"assets/app-1a2b.js", "console.log(1)"},
  }};
  Router router;
};

TEST_F(StaticSiteTest, ServesIndexWithBaseUnderThePrefix) {
  const auto r = Get("/management/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<head><base href=\"/management/\">"), std::string::npos);
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-cache");
  EXPECT_NE(HeaderOf(r, "Content-Security-Policy")->find("default-src 'self'"), std::string::npos);
}

TEST_F(StaticSiteTest, RedirectsThePrefixToItsFolderKeepingTheQuery) {
  const auto r = Get("/management?x=1");
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(HeaderOf(r, "Location"), "/management/?x=1");
}

TEST_F(StaticSiteTest, HashedAssetsAreImmutableAndRevalidate) {
  const auto r = Get("/management/assets/app-1a2b.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "console.log(1)");
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "public, max-age=31536000, immutable");
  const auto etag = HeaderOf(r, "ETag");
  ASSERT_TRUE(etag);
  const auto again = Get("/management/assets/app-1a2b.js", {{"If-None-Match", *etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
}

TEST_F(StaticSiteTest, AppRoutesFallBackToIndexButMissingFilesAre404) {
  EXPECT_EQ(Get("/management/counters/page.views").status, 200);
  EXPECT_NE(Get("/management/counters/page.views").body.find("<title>"), std::string::npos);
  EXPECT_EQ(Get("/management/assets/gone-0000.js").status, 404);
}

TEST_F(StaticSiteTest, ApiRoutesAreUntouched) {
  EXPECT_EQ(Get("/management/api/v1/counts").status, 401);  // the API still wants its key
  const auto unknown = Get("/management/api/v1/nothing");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.content_type, "application/problem+json");
  // A known API path with another method stays 405, not a page.
  Request r;
  r.method = Method::kDelete;
  r.target = r.path = "/management/api/v1/counts";
  EXPECT_EQ(router.Dispatch(r).status, 405);
  // And other methods on pages are 405.
  EXPECT_EQ(Get("/management/", {}, Method::kPost).status, 405);
}

TEST_F(StaticSiteTest, HeadIsServedLikeGet) {
  EXPECT_EQ(Get("/management/", {}, Method::kHead).status, 200);
}

TEST(ContentTypeFor, KnownAndUnknown) {
  EXPECT_EQ(ContentTypeFor("a/b.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.b/c"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("x.svg"), "image/svg+xml");
}

}  // namespace
}  // namespace count::http
