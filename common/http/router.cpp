#include "http/router.hpp"

#include <boost/container/small_vector.hpp>
#include <exception>
#include <stdexcept>

#include "core/ports.hpp"

namespace count::http {
namespace {

// A path's segments; most paths have few, kept without allocating.
using Segments = boost::container::small_vector<std::string_view, 8>;

Segments Split(std::string_view path) {
  Segments out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// "{name...}" as the last segment: the rest of the path, one or more segments.
bool IsRest(std::string_view segment) {
  return segment.size() > 5 && segment.front() == '{' && segment.ends_with("...}");
}

std::string_view MediaType(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return t;
}

}  // namespace

void Router::Add(Method method, std::string pattern, Handler handler, RouteOptions options) {
  std::vector<std::string> segments;
  for (auto s : Split(pattern)) segments.emplace_back(s);
  routes_.push_back({method,
                     std::move(pattern),
                     std::move(segments),
                     std::move(handler),
                     {},
                     std::move(options)});
}

void Router::AddAsync(Method method, std::string pattern, AsyncHandler handler,
                      RouteOptions options) {
  Add(method, std::move(pattern), {}, std::move(options));
  routes_.back().async = std::move(handler);
}

const Router::Route* Router::Match(Method method, std::string_view path, Fields* params,
                                   std::vector<Method>* allowed) const {
  const auto parts = Split(path);
  // Whether `route` (a rest route or not) matches the path's segments.
  const auto matches = [&parts](const Route& route, bool rest) {
    if (rest ? parts.size() < route.segments.size() : route.segments.size() != parts.size())
      return false;
    const std::size_t fixed = route.segments.size() - (rest ? 1 : 0);
    for (std::size_t i = 0; i < fixed; ++i) {
      const auto& seg = route.segments[i];
      if (IsParam(seg) ? parts[i].empty() : seg != parts[i]) return false;
    }
    return true;
  };
  // The parameters of a route that matches.
  const auto capture = [&parts](const Route& route, bool rest) {
    Fields found;
    for (std::size_t i = 0; i < route.segments.size(); ++i) {
      const auto& seg = route.segments[i];
      if (rest && i + 1 == route.segments.size()) {
        std::string tail;
        for (std::size_t j = i; j < parts.size(); ++j)
          tail += (j == i ? "" : "/") + std::string(parts[j]);
        found.emplace_back(seg.substr(1, seg.size() - 5), std::move(tail));
      } else if (IsParam(seg)) {
        found.emplace_back(seg.substr(1, seg.size() - 2), std::string(parts[i]));
      }
    }
    return found;
  };
  // Exact routes first; rest routes ("/page/{path...}") only when no exact route knows the
  // path, so they never turn an API's 404 or 405 into something else.
  std::vector<Method> exact_allowed;
  for (const bool rest_pass : {false, true}) {
    if (rest_pass && !exact_allowed.empty()) break;
    for (const auto& route : routes_) {
      const bool rest = !route.segments.empty() && IsRest(route.segments.back());
      if (rest != rest_pass || !matches(route, rest)) continue;
      if (route.method == method || (method == Method::kHead && route.method == Method::kGet)) {
        if (params) *params = capture(route, rest);
        return &route;
      }
      exact_allowed.push_back(route.method);
    }
  }
  if (allowed) *allowed = std::move(exact_allowed);
  return nullptr;
}

std::size_t Router::BodyLimit(Method method, std::string_view path) const {
  const Route* route = Match(method, path, nullptr, nullptr);
  return route ? route->options.body_limit : kDefaultBodyLimit;
}

std::vector<RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  for (const auto& route : routes_)
    out.push_back({route.method, route.pattern, route.options.scope});
  return out;
}

Response Router::Dispatch(Request& request) const {
  std::optional<Response> answer;
  Dispatch(request, [&answer](Response r) { answer = std::move(r); });
  if (!answer) throw std::logic_error("the handler of " + request.path + " answers later");
  return std::move(*answer);
}

void Router::Dispatch(Request& request, Respond respond) const {
  const auto answer = [&respond](Response r) { respond(std::move(r)); };
  std::vector<Method> allowed;
  const Route* route = Match(request.method, request.path, &request.params, &allowed);
  if (!route) {
    if (allowed.empty()) {
      request.route = "unmatched";
      return answer(Response::Problem(core::NotFound("no route for " + request.path)));
    }
    request.route = "unmatched";
    auto r = Response::Problem(core::MethodNotAllowed(std::string(ToString(request.method)) +
                                                      " is not allowed on " + request.path));
    std::string allow;
    for (auto m : allowed) allow += (allow.empty() ? "" : ", ") + std::string(ToString(m));
    r.headers.emplace_back("Allow", allow);
    return answer(std::move(r));
  }
  request.route = route->pattern;

  if (!route->options.scope.empty()) {
    const auto auth = request.Header("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (!auth || auth->size() <= kBearer.size() || !IEquals(auth->substr(0, 7), kBearer) ||
        !authenticator_)
      return answer(Response::Problem(
          core::Unauthorized("an API key is required: Authorization: Bearer <key>")));
    request.principal = Authenticate(request, auth->substr(kBearer.size()));
    if (!request.principal)
      return answer(Response::Problem(core::Unauthorized("the API key is not valid")));
    if (!request.principal->Has(route->options.scope))
      return answer(Response::Problem(
          core::Forbidden("this API key lacks the scope " + route->options.scope)));
  }

  if (!request.body.empty()) {
    const auto type = MediaType(request.Header("Content-Type").value_or(""));
    bool accepted = false;
    for (const auto& t : route->options.content_types) accepted = accepted || IEquals(t, type);
    if (!accepted) {
      std::string expected;
      for (const auto& t : route->options.content_types)
        expected += (expected.empty() ? "" : " or ") + t;
      return answer(Response::Problem(core::UnsupportedMediaType(
          "Content-Type '" + std::string(type) + "' is not accepted here; send " + expected)));
    }
  }
  Invoke(*route, request, std::move(respond));
}

// The connection's known key when `token` is the key it proved, compared in constant time
// (behind a proxy one connection carries the requests of many clients); else the
// authenticator's answer, which a valid key's connection keeps for its next requests.
const Principal* Router::Authenticate(Request& request, std::string_view token) const {
  KnownKey* known = request.known_key;
  if (known && known->principal && ConstantTimeEquals(known->token, token)) return known->principal;
  const Principal* principal = authenticator_(token);
  if (known && principal) {
    known->token.assign(token);
    known->principal = principal;
  }
  return principal;
}

void Router::Invoke(const Route& route, Request& request, Respond respond) const {
  if (route.async) {
    try {
      route.async(request, respond);
    } catch (...) {  // thrown before it answered: a handler answers or throws, never both
      respond(ErrorResponse(request, std::current_exception()));
    }
    return;
  }
  auto run = [&route, &request, respond = std::move(respond)] {
    Response r;
    try {
      r = route.handler(request);
    } catch (...) {
      r = ErrorResponse(request, std::current_exception());
    }
    respond(std::move(r));
  };
  RunBlocking(std::move(run));
}

Response ErrorResponse(Request& request, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const core::StoreUnavailable& e) {
    request.error = e.what();
    return Response::Problem(core::Unavailable(e.what()));
  } catch (const std::exception& e) {
    request.error = e.what();
  } catch (...) {
    request.error = "unknown exception";
  }
  return Response::Problem(
      core::Internal("unexpected error; see the service log (request " + request.request_id + ")"));
}

}  // namespace count::http
