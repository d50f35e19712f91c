#include "management_module.hpp"

#include "http/static_site.hpp"
#include "web/console_assets.hpp"

namespace count::management {

ManagementModule::ManagementModule(http::Router& router, core::CountInfoStore& info,
                                   core::CountValueStore& values)
    : admin_(info, values), api_(admin_) {
  api_.Register(router);
  http::ServeStaticSite(router, web::kManagementPage, web::ConsoleFiles());
}

}  // namespace count::management
