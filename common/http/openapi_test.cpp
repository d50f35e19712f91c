#include "http/openapi.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <set>

#include "http/problem_types.hpp"

namespace count::http {
namespace {

namespace json = boost::json;

Response Ok(Request&) { return Response::Json(200, "{}"); }

json::object Served(const Router& router) {
  const auto routes = router.Routes();
  return json::parse(OpenApiFor(routes)).as_object();
}

TEST(Router, ListsEveryRouteWithItsScope) {
  Router router;
  router.Add(Method::kGet, "/health", Ok);
  router.Add(Method::kPost, "/api/v1/counts/{id}/increment", Ok, {.scope = "count:write"});
  const auto routes = router.Routes();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].method, Method::kGet);
  EXPECT_EQ(routes[0].pattern, "/health");
  EXPECT_EQ(routes[0].scope, "");
  EXPECT_EQ(routes[1].pattern, "/api/v1/counts/{id}/increment");
  EXPECT_EQ(routes[1].scope, "count:write");
}

TEST(OpenApi, RestPatternsBecomeOneParameter) {
  EXPECT_EQ(OpenApiPath("/docs/{path...}"), "/docs/{path}");
  EXPECT_EQ(OpenApiPath("/api/v1/counts/{id}"), "/api/v1/counts/{id}");
}

TEST(OpenApi, KeepsOnlyTheRegisteredOperations) {
  Router router;
  router.Add(Method::kGet, "/api/v1/counts/{id}", Ok, {.scope = "count:read"});
  router.Add(Method::kGet, "/management/{path...}", Ok);
  const auto doc = Served(router);
  const auto& paths = doc.at("paths").as_object();
  EXPECT_EQ(paths.size(), 2u);
  // PUT /api/v1/counts/{id} is documented but not registered here.
  const auto& counts = paths.at("/api/v1/counts/{id}").as_object();
  EXPECT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts.at("get").at("operationId"), "getApiV1CountsId");
  EXPECT_TRUE(paths.contains("/management/{path}"));
  // What the operations refer to stays.
  EXPECT_TRUE(doc.at("components").as_object().contains("responses"));
}

TEST(OpenApi, MarksARegisteredRouteTheDocumentLacks) {
  Router router;
  router.Add(Method::kGet, "/health", Ok);
  router.Add(Method::kPost, "/health", Ok);  // not documented
  router.Add(Method::kDelete, "/nowhere/{a}/{b}", Ok, {.scope = "admin"});
  const auto paths = Served(router).at("paths").as_object();
  EXPECT_FALSE(paths.at("/health").at("get").as_object().contains("x-undocumented"));
  EXPECT_EQ(paths.at("/health").at("post").at("x-undocumented"), true);
  const auto& nowhere = paths.at("/nowhere/{a}/{b}").at("delete").as_object();
  EXPECT_EQ(nowhere.at("x-undocumented"), true);
  EXPECT_EQ(nowhere.at("parameters").as_array().size(), 2u);
  EXPECT_EQ(nowhere.at("security").at(0).at("apiKey").at(0), "admin");
}

// Every problem type of the one table (problem_types.cpp) is in the document with its status.
TEST(OpenApi, DocumentsEveryProblemTypeWithItsStatus) {
  const auto doc = json::parse(OpenApiDocument()).as_object();
  std::set<std::pair<std::string, std::int64_t>> documented;
  for (const auto& [name, response] : doc.at("components").at("responses").as_object())
    for (const auto& [slug, example] :
         response.at("content").at("application/problem+json").at("examples").as_object())
      documented.emplace(std::string(example.at("value").at("type").as_string()),
                         example.at("value").at("status").as_int64());
  std::set<std::pair<std::string, std::int64_t>> table;
  for (int i = 0; i <= static_cast<int>(core::Outcome::kInternal); ++i) {
    const core::Problem p{static_cast<core::Outcome>(i), ""};
    table.emplace(TypeUri(p), StatusOf(p));
  }
  EXPECT_EQ(documented, table);
}

}  // namespace
}  // namespace count::http
