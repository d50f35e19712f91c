#include "management_module.hpp"

#include "http/openapi.hpp"
#include "http/static_site.hpp"
#include "web/console_assets.hpp"

namespace count::management {

ManagementModule::ManagementModule(http::Router& router, core::CountInfoStore& info,
                                   core::CountValueStore& values)
    : admin_(info, values), api_(admin_) {
  api_.Register(router);
  http::ServeStaticSite(router, web::kManagementPage, web::ConsoleFiles());
  // The API reference page, beside the counters page (the console's home), with the whole
  // system's document it shows: behind the ingress /openapi.json reaches one service only.
  http::ServeStaticSite(router, web::kDocsPage, web::ConsoleFiles());
  http::ServeOpenApi(router, std::string(web::kDocsPage) + "/openapi.json", /*whole=*/true);
}

}  // namespace count::management
