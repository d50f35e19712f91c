#include "harness/api_harness.hpp"

#include <boost/json/parse.hpp>
#include <cstdio>
#include <cstdlib>

namespace count::fuzz {

void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "invariant broken: %.*s\n%.*s\n", int(what.size()), what.data(),
               int(std::min<std::size_t>(detail.size(), 4000)), detail.data());
  std::abort();
}

ApiHarness::ApiHarness()
    : write_(router_, {values_, info_}, {.auto_create = true}, /*strong_read=*/false),
      read_(router_, values_),
      management_(router_, info_, values_),
      analysis_(history_) {
  analysis_.Register(router_);
  router_.SetAuthenticator([](std::string_view token) -> const http::Principal* {
    static const http::Principal admin{"admin", {"admin"}}, reader{"reader", {"count:read"}},
        writer{"writer", {"count:write"}};
    if (token == "admin-key") return &admin;
    if (token == "read-key") return &reader;
    if (token == "write-key") return &writer;
    return nullptr;
  });
}

http::Response ApiHarness::Handle(http::Request& request) {
  auto response = router_.Dispatch(request);
  CheckResponse(request, response);
  return response;
}

void CheckResponse(const http::Request& request, const http::Response& response) {
  const std::string where = std::string(http::ToString(request.method)) + " " + request.target;
  switch (response.status) {
    case 200:
    case 201:
    case 204:
    case 304:  // the console's pages (the management module mounts them, as standalone does)
    case 308:
    case 400:
    case 401:
    case 403:
    case 404:
    case 405:
    case 409:
    case 413:
    case 415:
    case 422:
    case 503:
      break;
    default:
      Fail("unexpected status " + std::to_string(response.status) + " for " + where,
           response.body + "\n" + request.error);
  }
  if (response.status == 204) {
    if (!response.body.empty()) Fail("a body with 204 for " + where, response.body);
    return;
  }
  const bool problem = response.content_type == "application/problem+json";
  if (!problem && response.content_type != "application/json") return;  // CSV
  boost::system::error_code ec;
  const auto body = boost::json::parse(response.body, ec);
  if (ec || !body.is_object()) Fail("the JSON answer does not parse for " + where, response.body);
  if (problem != (response.status >= 400)) Fail("problem type and status disagree", where);
  if (!problem) return;
  const auto& o = body.as_object();
  const auto* type = o.if_contains("type");
  const auto* status = o.if_contains("status");
  if (!type || !type->is_string() || !type->as_string().starts_with("/problems/") || !status ||
      !status->is_int64() || status->as_int64() != response.status)
    Fail("a malformed problem for " + where, response.body);
}

}  // namespace count::fuzz
