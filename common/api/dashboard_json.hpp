#pragma once
// The API's JSON representation of dashboards (docs/API.md, "Dashboards"):
// {"id","name","widgets":[{"id","type","title","countIds","chartType","period","unit",
//  "layout":{"x","y","w","h"}}],"createdAt","updatedAt","version"}
#include <boost/json/object.hpp>
#include <optional>

#include "core/dashboard.hpp"
#include "core/problem.hpp"

namespace count::api {

// Reads a request body into `out` (id when present, name, widgets); the rules of
// core::CheckDashboard are not applied here. A member of the wrong JSON type is a 422
// validation-error naming it (`widgets[1].layout.w`). "title", "countIds", "chartType",
// "period" and "unit" may be absent or null (empty); members it does not know, such as
// createdAt, updatedAt and version, are ignored, so a dashboard read with GET can be PUT back.
std::optional<core::Problem> ReadDashboard(const boost::json::object& body, core::Dashboard& out);

// The dashboard as the API shows it; an empty chartType, period or unit is null.
boost::json::object DashboardJson(const core::Dashboard& d);

}  // namespace count::api
