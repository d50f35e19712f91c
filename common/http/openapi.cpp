#include "http/openapi.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <mutex>

namespace count::http {
namespace {

std::string LowerMethod(Method m) {
  std::string s(ToString(m));
  for (auto& c : s) c = static_cast<char>(c - 'A' + 'a');
  return s;
}

const boost::json::object& Parsed() {
  static const boost::json::value doc = boost::json::parse(OpenApiDocument());
  return doc.as_object();
}

boost::json::object& Item(boost::json::object& paths, std::string_view key) {
  auto& item = paths[key];
  if (!item.is_object()) item.emplace_object();
  return item.as_object();
}

}  // namespace

std::string_view OpenApiDocument() { return OpenApiFiles().front().data; }

std::string OpenApiPath(std::string_view pattern) {
  std::string out(pattern);
  if (out.ends_with("...}")) out.erase(out.size() - 4, 3);
  return out;
}

std::string OpenApiFor(std::span<const RouteInfo> routes) {
  boost::json::object doc = Parsed();
  const auto& documented = Parsed().at("paths").as_object();
  boost::json::object paths;
  // Documented operations first, in the document's order.
  for (const auto& [key, item] : documented) {
    for (const auto& route : routes) {
      if (OpenApiPath(route.pattern) != key) continue;
      const auto method = LowerMethod(route.method);
      if (const auto* op = item.as_object().if_contains(method)) Item(paths, key)[method] = *op;
    }
  }
  for (const auto& route : routes) {
    if (route.method == Method::kHead || route.method == Method::kOptions) continue;
    const auto key = OpenApiPath(route.pattern);
    const auto method = LowerMethod(route.method);
    if (auto* item = paths.if_contains(key); item && item->as_object().contains(method)) continue;
    boost::json::object op{{"summary", "not documented in docs/openapi.json"},
                           {"x-undocumented", true},
                           {"responses", {{"default", {{"description", "not documented"}}}}}};
    if (!route.scope.empty())
      op["security"] = boost::json::array{{{"apiKey", boost::json::array{route.scope}}}};
    if (key.find('{') != std::string::npos) {
      // A path template must declare its parameters to stay a valid document.
      boost::json::array params;
      for (std::size_t at = key.find('{'); at != std::string::npos; at = key.find('{', at + 1))
        params.push_back({{"name", key.substr(at + 1, key.find('}', at) - at - 1)},
                          {"in", "path"},
                          {"required", true},
                          {"schema", {{"type", "string"}}}});
      op["parameters"] = std::move(params);
    }
    Item(paths, key)[method] = std::move(op);
  }
  doc["paths"] = std::move(paths);
  return boost::json::serialize(doc);
}

void ServeOpenApi(Router& router, std::string path, bool whole) {
  struct Cache {
    std::once_flag once;
    std::string body;
  };
  auto cache = std::make_shared<Cache>();
  router.Add(Method::kGet, std::move(path), [&router, cache, whole](Request&) {
    std::call_once(cache->once, [&] {
      if (whole) {
        cache->body = std::string(OpenApiDocument());
      } else {
        const auto routes = router.Routes();
        cache->body = OpenApiFor(routes);
      }
    });
    Response r = Response::Json(200, cache->body);
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  });
}

}  // namespace count::http
