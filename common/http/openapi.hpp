#pragma once
// The system's OpenAPI 3.1 document (docs/openapi.json, compiled in by cmake/embed_files.cmake)
// and what a service serves of it: the operations its own router registered. The router's
// routes stay the one declaration of what exists; the document adds what they mean, and
// tests/blackbox/test_openapi.py proves the two agree (docs/API.md, "OpenAPI").
#include <span>
#include <string>
#include <string_view>

#include "http/router.hpp"
#include "http/static_site.hpp"

namespace count::http {

// docs/openapi.json as built into this binary (generated source).
std::span<const EmbeddedFile> OpenApiFiles();

// The whole document: every operation of every service.
std::string_view OpenApiDocument();

// The document's path key of a router pattern: "/docs/{path...}" → "/docs/{path}".
std::string OpenApiPath(std::string_view pattern);

// The document restricted to `routes`: the paths and methods they register, in the
// document's order. A route the document lacks is listed too, as an operation marked
// "x-undocumented": true, so that a test — and a reader — sees it; HEAD and OPTIONS are
// implied by the server and skipped.
std::string OpenApiFor(std::span<const RouteInfo> routes);

// GET `path`: OpenApiFor(router.Routes()), computed at the first request (when every module
// has registered its routes) and kept. `whole`: the whole document instead.
void ServeOpenApi(Router& router, std::string path, bool whole = false);

}  // namespace count::http
