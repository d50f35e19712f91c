#include "http/static_site.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>

namespace count::http {
namespace {

struct Entry {
  std::string_view data;  // the embedded bytes, or `owned` when rewritten
  std::string owned;
  std::string content_type;
  std::string etag;
  std::string cache_control;
};

std::string ETagOf(std::string_view data) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64: cheap, and stable per build
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ull;
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  std::size_t pos = 0;
  while (pos < if_none_match.size()) {
    auto end = if_none_match.find(',', pos);
    if (end == std::string_view::npos) end = if_none_match.size();
    auto tag = if_none_match.substr(pos, end - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
    pos = end + 1;
  }
  return false;
}

std::string WithBase(std::string_view html, std::string_view prefix) {
  std::string out(html);
  if (out.find("<base ") != std::string::npos) return out;
  const auto head = out.find("<head>");
  if (head == std::string::npos) return out;
  out.insert(head + 6, "<base href=\"" + std::string(prefix) + "/\">");
  return out;
}

}  // namespace

std::string_view ContentTypeFor(std::string_view path) {
  static const std::map<std::string_view, std::string_view> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"ico", "image/x-icon"},
      {"woff2", "font/woff2"},
      {"txt", "text/plain; charset=utf-8"},
  };
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return "application/octet-stream";
  const auto it = kTypes.find(path.substr(dot + 1));
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

void ServeStaticSite(Router& router, std::string prefix, std::span<const EmbeddedFile> files) {
  auto site = std::make_shared<std::map<std::string, Entry, std::less<>>>();
  for (const auto& f : files) {
    Entry e;
    e.data = f.data;
    if (f.path == "index.html") {
      e.owned = WithBase(f.data, prefix);
      e.data = e.owned;
    }
    e.content_type = ContentTypeFor(f.path);
    e.etag = ETagOf(e.data);
    e.cache_control =
        f.path.starts_with("assets/") ? "public, max-age=31536000, immutable" : "no-cache";
    site->emplace(std::string(f.path), std::move(e));
  }
  // `owned` moved with the entry: point data at the moved string again.
  for (auto& [path, e] : *site)
    if (!e.owned.empty()) e.data = e.owned;

  router.Add(Method::kGet, prefix, [prefix](Request& r) {
    Response res{308, "text/plain; charset=utf-8", "", {}};
    const auto q = r.target.find('?');
    res.headers.emplace_back("Location",
                             prefix + "/" + (q == std::string::npos ? "" : r.target.substr(q)));
    return res;
  });
  router.Add(Method::kGet, prefix + "/{path...}", [site, prefix](Request& r) {
    std::string_view path = r.Param("path");
    if (path == "api" || path.starts_with("api/") || path == "events" ||
        path.starts_with("events/"))
      return Response::Problem(core::NotFound("no route for " + r.path));
    auto it = site->find(path.empty() ? std::string_view("index.html") : path);
    if (it == site->end()) {
      if (path.starts_with("assets/"))  // a build's file that is not in this build
        return Response::Problem(core::NotFound("no file " + r.path));
      it = site->find(std::string_view("index.html"));
      if (it == site->end()) return Response::Problem(core::NotFound("no file " + r.path));
    }
    const Entry& e = it->second;
    Response res{200, e.content_type, "", {}};
    res.headers.emplace_back("ETag", e.etag);
    res.headers.emplace_back("Cache-Control", e.cache_control);
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (e.content_type.starts_with("text/html")) {
      // Everything comes from this origin; inline styles only as the chart and grid
      // libraries set them; never framed.
      res.headers.emplace_back("Content-Security-Policy",
                               "default-src 'self'; img-src 'self' data:; style-src 'self' "
                               "'unsafe-inline'; base-uri 'self'; form-action 'self'; "
                               "frame-ancestors 'none'");
      res.headers.emplace_back("Referrer-Policy", "no-referrer");
    }
    if (const auto inm = r.Header("If-None-Match"); inm && EtagMatches(*inm, e.etag)) {
      res.status = 304;
      res.content_type = {};
      return res;
    }
    res.body.assign(e.data);
    return res;
  });
}

}  // namespace count::http
