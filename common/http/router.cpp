#include "http/router.hpp"

#include <exception>

#include "core/ports.hpp"

namespace count::http {
namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
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
  routes_.push_back(
      {method, std::move(pattern), std::move(segments), std::move(handler), std::move(options)});
}

const Router::Route* Router::Match(Method method, std::string_view path, Fields* params,
                                   std::vector<Method>* allowed) const {
  const auto parts = Split(path);
  // Exact routes first; rest routes ("/page/{path...}") only when no exact route knows the
  // path, so they never turn an API's 404 or 405 into something else.
  std::vector<Method> exact_allowed;
  for (const bool rest_pass : {false, true}) {
    if (rest_pass && !exact_allowed.empty()) break;
    for (const auto& route : routes_) {
      const bool rest = !route.segments.empty() && IsRest(route.segments.back());
      if (rest != rest_pass) continue;
      if (rest ? parts.size() < route.segments.size() : route.segments.size() != parts.size())
        continue;
      Fields found;
      bool ok = true;
      for (std::size_t i = 0; i < route.segments.size() && ok; ++i) {
        const auto& seg = route.segments[i];
        if (rest && i + 1 == route.segments.size()) {
          std::string tail;
          for (std::size_t j = i; j < parts.size(); ++j)
            tail += (j == i ? "" : "/") + std::string(parts[j]);
          found.emplace_back(seg.substr(1, seg.size() - 5), std::move(tail));
        } else if (IsParam(seg)) {
          if (parts[i].empty())
            ok = false;
          else
            found.emplace_back(seg.substr(1, seg.size() - 2), std::string(parts[i]));
        } else {
          ok = seg == parts[i];
        }
      }
      if (!ok) continue;
      if (route.method == method || (method == Method::kHead && route.method == Method::kGet)) {
        if (params) *params = std::move(found);
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
  std::vector<Method> allowed;
  const Route* route = Match(request.method, request.path, &request.params, &allowed);
  if (!route) {
    if (allowed.empty()) {
      request.route = "unmatched";
      return Response::Problem(core::NotFound("no route for " + request.path));
    }
    request.route = "unmatched";
    auto r = Response::Problem(core::MethodNotAllowed(std::string(ToString(request.method)) +
                                                      " is not allowed on " + request.path));
    std::string allow;
    for (auto m : allowed) allow += (allow.empty() ? "" : ", ") + std::string(ToString(m));
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  request.route = route->pattern;

  if (!route->options.scope.empty()) {
    const auto auth = request.Header("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (!auth || auth->size() <= kBearer.size() || !IEquals(auth->substr(0, 7), kBearer) ||
        !authenticator_)
      return Response::Problem(
          core::Unauthorized("an API key is required: Authorization: Bearer <key>"));
    request.principal = authenticator_(auth->substr(kBearer.size()));
    if (!request.principal)
      return Response::Problem(core::Unauthorized("the API key is not valid"));
    if (!request.principal->Has(route->options.scope))
      return Response::Problem(
          core::Forbidden("this API key lacks the scope " + route->options.scope));
  }

  if (!request.body.empty()) {
    const auto type = MediaType(request.Header("Content-Type").value_or(""));
    bool accepted = false;
    for (const auto& t : route->options.content_types) accepted = accepted || IEquals(t, type);
    if (!accepted) {
      std::string expected;
      for (const auto& t : route->options.content_types)
        expected += (expected.empty() ? "" : " or ") + t;
      return Response::Problem(core::UnsupportedMediaType(
          "Content-Type '" + std::string(type) + "' is not accepted here; send " + expected));
    }
  }
  return Invoke(*route, request);
}

Response Router::Invoke(const Route& route, Request& request) const {
  try {
    return route.handler(request);
  } catch (const core::StoreUnavailable& e) {
    request.error = e.what();
    return Response::Problem(core::Unavailable(e.what()));
  } catch (const std::exception& e) {
    request.error = e.what();
    return Response::Problem(core::Internal("unexpected error; see the service log (request " +
                                            request.request_id + ")"));
  }
}

}  // namespace count::http
