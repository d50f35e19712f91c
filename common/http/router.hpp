#pragma once
// Routes: method + path pattern ("/api/v1/counts/{id}/increment") → handler, with the
// scope a caller needs and the body limit. Dispatch applies the request rules every
// service shares, in order: 404/405, 401/403, 415, then the handler. Exceptions from a
// handler become problems here and never reach the event loop.
//
// A route's handler is either blocking (Handler: it runs on the blocking pool, so a slow
// store call stalls no event loop) or async (AsyncHandler: it runs on the connection's event
// loop, must not block, and answers through Respond when its store replies).
#include <deque>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace count::http {

inline constexpr std::size_t kDefaultBodyLimit = 64 * 1024;

using Handler = std::function<Response(Request&)>;
using AsyncHandler = std::function<void(Request&, Respond)>;
// The principal of a key, or null; it must outlive every request.
using Authenticator = std::function<const Principal*(std::string_view bearer_token)>;

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
  void AddAsync(Method method, std::string pattern, AsyncHandler handler,
                RouteOptions options = {});
  void SetAuthenticator(Authenticator authenticator) { authenticator_ = std::move(authenticator); }

  // Where blocking handlers run (the server's pool); without one they run inline.
  void SetRunBlocking(http::RunBlocking run) { run_blocking_ = std::move(run); }
  // Runs `work` there: for an async handler whose request needs a blocking call after all.
  void RunBlocking(std::function<void()> work) const {
    run_blocking_ ? run_blocking_(std::move(work)) : work();
  }

  std::size_t BodyLimit(Method method, std::string_view path) const;
  // Every route, in the order registered; the views live as long as the router.
  std::vector<RouteInfo> Routes() const;
  // Answers through `respond`, at once or once the route's handler has.
  void Dispatch(Request& request, Respond respond) const;
  // For tests and fuzzing: the answer of a handler that answers before it returns (every
  // blocking one when no RunBlocking is set); throws std::logic_error for one that does not.
  Response Dispatch(Request& request) const;

 private:
  struct Route {
    Method method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;  // one of these two
    AsyncHandler async;
    RouteOptions options;
  };
  const Route* Match(Method method, std::string_view path, Fields* params,
                     std::vector<Method>* allowed) const;
  void Invoke(const Route& route, Request& request, Respond respond) const;
  const Principal* Authenticate(Request& request, std::string_view token) const;

  std::deque<Route> routes_;  // stable addresses: requests point at their route's pattern
  Authenticator authenticator_;
  http::RunBlocking run_blocking_;
};

// The answer to a handler's exception (StoreUnavailable → 503, anything else → 500), with
// what went wrong kept in request.error for the log. For async handlers, whose store replies
// arrive as exception_ptr.
Response ErrorResponse(Request& request, std::exception_ptr error);

}  // namespace count::http
