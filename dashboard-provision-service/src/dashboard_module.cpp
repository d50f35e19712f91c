#include "dashboard_module.hpp"

#include "http/static_site.hpp"
#include "web/console_assets.hpp"

namespace count::dashboard {

DashboardModule::DashboardModule(http::Router& router, DashboardStores stores,
                                 SummaryCache summary_cache)
    : api_(stores.dashboards, stores.counts, stores.values, summary_cache) {
  api_.Register(router);
  http::ServeStaticSite(router, web::kDashboardPage, web::ConsoleFiles());
}

}  // namespace count::dashboard
