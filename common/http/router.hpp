#pragma once
// Routes: method + path pattern ("/api/v1/counts/{id}/increment") → handler, with the
// scope a caller needs and the body limit. Dispatch applies the request rules every
// service shares, in order: 404/405, 401/403, 415, then the handler. Exceptions from a
// handler become problems here and never reach the event loop.
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace count::http {

inline constexpr std::size_t kDefaultBodyLimit = 64 * 1024;

using Handler = std::function<Response(Request&)>;
using Authenticator = std::function<std::optional<Principal>(std::string_view bearer_token)>;

struct RouteOptions {
  std::string scope;  // empty: public
  std::size_t body_limit = kDefaultBodyLimit;
  std::vector<std::string> content_types = {"application/json"};
};

// One registered route as the router knows it (for documents such as /openapi.json).
struct RouteInfo {
  Method method;
  std::string_view pattern;
  std::string_view scope;  // empty: public
};

class Router {
 public:
  // `pattern` segments are literal, "{name}" (one segment) or, last only, "{name...}" (the
  // rest of the path, one or more segments, joined by '/'; matched after every other route).
  void Add(Method method, std::string pattern, Handler handler, RouteOptions options = {});
  void SetAuthenticator(Authenticator authenticator) { authenticator_ = std::move(authenticator); }

  std::size_t BodyLimit(Method method, std::string_view path) const;
  // Every route, in the order registered; the views live as long as the router.
  std::vector<RouteInfo> Routes() const;
  Response Dispatch(Request& request) const;

 private:
  struct Route {
    Method method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
  };
  const Route* Match(Method method, std::string_view path, Fields* params,
                     std::vector<Method>* allowed) const;
  Response Invoke(const Route& route, Request& request) const;

  std::deque<Route> routes_;  // stable addresses: requests point at their route's pattern
  Authenticator authenticator_;
};

}  // namespace count::http
