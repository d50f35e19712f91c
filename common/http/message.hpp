#pragma once
// HTTP messages as the handlers see them: plain structs, no Beast headers, so only the
// server's translation unit pays for Boost.Beast.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/problem.hpp"

namespace count::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };
std::string_view ToString(Method m);

using Fields = std::vector<std::pair<std::string, std::string>>;

bool IEquals(std::string_view a, std::string_view b);

struct Principal {
  std::string name;
  std::vector<std::string> scopes;
  bool Has(std::string_view scope) const;  // admin implies every scope
};

struct Request {
  Method method = Method::kGet;
  std::string target;  // as received: path and query
  std::string path;    // percent-decoded
  Fields query;        // percent-decoded, in order
  Fields headers;
  std::string body;
  std::string request_id;
  std::string remote;

  // Filled by the router.
  Fields params;
  // The matched pattern (owned by the router, which outlives requests), for metrics and logs.
  std::string_view route;
  std::optional<Principal> principal;
  std::string error;  // what went wrong inside, for the log only

  std::optional<std::string_view> Header(std::string_view name) const;
  std::optional<std::string_view> Query(std::string_view name) const;
  std::string_view Param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Fields headers;

  static Response Json(int status, std::string body);
  static Response Problem(const core::Problem& p);
  static Response NoContent();
};

// Splits "path?query" and percent-decodes both; false on malformed escapes or a NUL.
bool ParseTarget(std::string_view target, std::string& path, Fields& query);

}  // namespace count::http
