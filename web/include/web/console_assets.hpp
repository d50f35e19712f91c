#pragma once
// The built web console (web/), compiled into the binary by cmake/embed_files.cmake.
#include <span>

#include "http/static_site.hpp"

namespace count::web {

// Every file of the console: index.html and the hashed files under assets/.
std::span<const http::EmbeddedFile> ConsoleFiles();

// The page prefixes (docs/API.md, "Console pages"): each service serves the console under its own.
inline constexpr const char* kManagementPage = "/management";
inline constexpr const char* kAnalysisPage = "/analysis";
inline constexpr const char* kDashboardPage = "/dashboard";
// The API reference (the OpenAPI document rendered), served beside the management page.
inline constexpr const char* kDocsPage = "/docs";

}  // namespace count::web
