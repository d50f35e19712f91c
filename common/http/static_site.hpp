#pragma once
// Serves a built single-page app (the web console) from files compiled into the binary.
// Beast-free: it only registers routes on a Router.
#include <span>
#include <string>
#include <string_view>

#include "http/router.hpp"

namespace count::http {

// One file of the built site: its path relative to the site root ("index.html",
// "assets/index-3f2a1b.js") and its bytes.
struct EmbeddedFile {
  std::string_view path;
  std::string_view data;
};

// Registers GET (and so HEAD) `prefix` and `prefix/{path...}`, e.g. prefix "/management":
//  * `/management` redirects to `/management/`; `/management/` is index.html;
//  * a file of the site is served with its Content-Type, a strong ETag (If-None-Match → 304)
//    and Cache-Control: files under `assets/` carry a content hash in their name (Vite), so
//    they are cached for a year as immutable; everything else is revalidated (no-cache);
//  * a missing file under `assets/` is 404; `prefix/api/...` and `prefix/events...` stay 404
//    problems; any other path is index.html (the app routes it in the browser);
//  * index.html gets `<base href="/management/">` so its relative asset URLs resolve under
//    whichever prefix serves it.
// The files need no API key: they hold no data; every API call the page makes carries one.
// `files` must outlive the router (normally static data).
void ServeStaticSite(Router& router, std::string prefix, std::span<const EmbeddedFile> files);

// "text/javascript; charset=utf-8" for "a/b.js"; application/octet-stream when unknown.
std::string_view ContentTypeFor(std::string_view path);

}  // namespace count::http
